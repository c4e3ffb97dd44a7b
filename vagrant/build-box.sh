#!/bin/sh
# Build a libvirt Vagrant box from Debian's packages, with everything a haflow
# node needs baked in, so that its VMs need no network at all:
#   - Debian (mmdebstrap) with a kernel, extlinux as bootloader, ssh, sudo, rsync;
#   - the cluster stack (lab/provision-node.sh's packages) and vagrant/packages;
#   - a wheelhouse of haflow's Python dependencies in /opt/haflow-wheels, and a
#     virtualenv /opt/haflow with them installed, which install-haflow.sh builds
#     haflow into.
# Debian's corosync package leaves its default one-node cluster configured, as
# on any Debian machine; provisioning clears it (lab/provision-node.sh).
#
#   build-box.sh [--name NAME] [--out DIR] [--size GiB] [--keep-work]
#
# It needs root (mmdebstrap, a loop mount in a private mount namespace), the
# Debian packages mmdebstrap qemu-utils extlinux syslinux-common fdisk vagrant,
# and a Debian mirror while it builds (HAFLOW_DEBIAN_MIRROR). The box is added
# to Vagrant as NAME (default haflow/bookworm64: the Vagrantfile's HAFLOW_BOX).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
name=haflow/bookworm64 out=${HAFLOW_BOX_DIR:-/var/cache/haflow-vagrant} size=8 keep=no
suite=bookworm
SLOW_BOOT="udev.event_timeout=600 systemd.default_timeout_start_sec=600"
mirror=${HAFLOW_DEBIAN_MIRROR:-http://deb.debian.org}

usage() { echo "usage: $0 [--name NAME] [--out DIR] [--size GiB] [--keep-work]" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --name) name=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --keep-work) keep=yes; shift ;;
        *) usage ;;
    esac
done
die() { echo "build-box: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (mmdebstrap and a loop mount)"
for tool in mmdebstrap qemu-img extlinux sfdisk mke2fs vagrant; do
    command -v "$tool" >/dev/null || die "$tool is missing: apt-get install mmdebstrap" \
        "qemu-utils extlinux syslinux-common fdisk e2fsprogs vagrant"
done
mbr=/usr/lib/syslinux/mbr/mbr.bin
[ -f "$mbr" ] || die "$mbr is missing: apt-get install syslinux-common"
# the wheels are built by this machine's Python: it must be the box's (Debian 12's 3.11)
python_version=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$python_version" = 3.11 ] || die "/usr/bin/python3 is $python_version; the box's is 3.11"

mkdir -p "$out"
work=$(mktemp -d "$out/work.XXXXXX")
cleanup() { [ "$keep" = yes ] || rm -rf "$work"; }
trap cleanup EXIT
rootfs=$work/rootfs
box_name=$(echo "$name" | tr / -)
started=$(date +%s)
phase() { echo "build-box: $* ($(( $(date +%s) - started )) s)"; }

packages="linux-image-amd64 initramfs-tools systemd-sysv udev dbus ifupdown isc-dhcp-client
  openssh-server sudo rsync procps less $(sh "$repo/lab/provision-node.sh" --print-packages)
  $(grep -v '^#' "$here/packages")"
phase "mmdebstrap $suite"
# shellcheck disable=SC2086  # the package list is split into words on purpose
mmdebstrap --variant=minbase --aptopt='APT::Install-Recommends "false"' \
    --include="$(echo $packages | tr ' ' ,)" \
    "$suite" "$rootfs" \
    "deb $mirror/debian $suite main" "deb $mirror/debian $suite-updates main" \
    "deb $mirror/debian-security $suite-security main"

phase "wheelhouse"
/usr/bin/python3 -m venv "$work/pyenv"
"$work/pyenv/bin/pip" wheel -q --wheel-dir "$rootfs/opt/haflow-wheels" setuptools wheel "$repo"
# The VM's virtualenv with every dependency and the build's own tools, made here at
# native speed: under software emulation `python3 -m venv` alone took over 5 min
# per VM, and pip's isolated build environment as long again. install-haflow.sh
# then only builds haflow itself into it. The chroot gets /proc and /dev in a
# mount namespace of its own, so nothing stays mounted on failure.
haflow_wheel=$(cd "$rootfs/opt/haflow-wheels" && echo haflow-*.whl)
[ -f "$rootfs/opt/haflow-wheels/$haflow_wheel" ] || die "pip wheel made no haflow wheel"
# shellcheck disable=SC2016  # expanded by the inner shell
unshare --mount --propagation private sh -eu -c '
    mount -t proc proc "$1/proc"
    mount --rbind /dev "$1/dev"
    chroot "$1" python3 -m venv /opt/haflow
    chroot "$1" /opt/haflow/bin/pip install -q --no-index --find-links /opt/haflow-wheels \
        setuptools wheel "/opt/haflow-wheels/$2"
    chroot "$1" /opt/haflow/bin/pip uninstall -q -y haflow' sh "$rootfs" "$haflow_wheel"
rm -f "$rootfs"/opt/haflow-wheels/haflow-*.whl   # haflow itself comes from the VM's /haflow

phase "vagrant user, network, bootloader configuration"
chroot "$rootfs" useradd --create-home --shell /bin/bash vagrant
echo vagrant:vagrant | chroot "$rootfs" chpasswd
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' > "$rootfs/etc/sudoers.d/vagrant"
chmod 0440 "$rootfs/etc/sudoers.d/vagrant"
# Vagrant's well-known key: `vagrant up` replaces it with a key of its own on first boot
insecure_key=$(find /usr/share/rubygems-integration /usr/lib/ruby /opt/vagrant \
    -path '*/keys/vagrant.pub' 2>/dev/null | head -n 1)
[ -n "$insecure_key" ] || die "Vagrant's insecure public key (keys/vagrant.pub) not found"
install -d -o 1000 -g 1000 -m 0700 "$rootfs/home/vagrant/.ssh"
install -o 1000 -g 1000 -m 0600 "$insecure_key" "$rootfs/home/vagrant/.ssh/authorized_keys"
echo "UseDNS no" > "$rootfs/etc/ssh/sshd_config.d/vagrant.conf"
echo haflow-box > "$rootfs/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$rootfs/etc/hosts"
printf '%s\n' "source /etc/network/interfaces.d/*" "auto lo" "iface lo inet loopback" \
    "auto eth0" "iface eth0 inet dhcp" > "$rootfs/etc/network/interfaces"
: > "$rootfs/etc/machine-id"   # each VM makes its own at first boot
rm -f "$rootfs/var/lib/dbus/machine-id"
uuid=$(cat /proc/sys/kernel/random/uuid)
echo "UUID=$uuid / ext4 errors=remount-ro 0 1" > "$rootfs/etc/fstab"
kernel=$(find "$rootfs/boot" -name 'vmlinuz-*' -printf '%f\n' | sort -V | tail -n 1)
install -d "$rootfs/boot/extlinux"
# net.ifnames=0: the NIC is eth0 whatever slot libvirt gives it. Under software
# emulation on a busy host a boot is slow enough for udev to kill its workers
# (the NICs then never become systemd devices, and ifup@eth0 fails) and for
# services to miss systemd's 90 s start timeout: both get 10 minutes.
printf '%s\n' "DEFAULT debian" "TIMEOUT 1" "LABEL debian" "  LINUX /boot/$kernel" \
    "  INITRD /boot/initrd.img-${kernel#vmlinuz-}" \
    "  APPEND root=UUID=$uuid ro net.ifnames=0 console=tty0 console=ttyS0,115200 $SLOW_BOOT" \
    > "$rootfs/boot/extlinux/extlinux.conf"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/apt/archives/*.deb

phase "disk image"
raw=$work/disk.raw
truncate -s "${size}G" "$raw"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$raw"
# the file system is made straight from the tree, 1 MiB into the disk; only
# extlinux needs it mounted, in a mount namespace of its own so nothing leaks
mke2fs -q -t ext4 -O ^64bit -U "$uuid" -L haflow-root -d "$rootfs" \
    -E offset=1048576 "$raw" "$(( size * 1024 * 1024 - 1024 ))k"
# shellcheck disable=SC2016  # expanded by the inner shell
unshare --mount --propagation private sh -eu -c '
    mkdir -p "$1/mnt"
    mount -o loop,offset=1048576 "$2" "$1/mnt"
    extlinux --install "$1/mnt/boot/extlinux" >/dev/null
    umount "$1/mnt"' sh "$work" "$raw"
dd if="$mbr" of="$raw" bs=440 count=1 conv=notrunc status=none
rm -rf "$rootfs"

phase "box"
mkdir "$work/box"
qemu-img convert -O qcow2 "$raw" "$work/box/box.img"
rm -f "$raw"
printf '{"provider": "libvirt", "format": "qcow2", "virtual_size": %s}\n' "$size" \
    > "$work/box/metadata.json"
printf '%s\n' 'Vagrant.configure("2") do |config|' \
    '  config.vm.provider :libvirt do |lv|' '    lv.disk_bus = "virtio"' '  end' 'end' \
    > "$work/box/Vagrantfile"
tar -C "$work/box" -cf "$out/$box_name.box" metadata.json Vagrantfile box.img
vagrant box add --force --name "$name" "$out/$box_name.box"
phase "box $name added from $out/$box_name.box"
