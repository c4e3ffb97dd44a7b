#!/bin/sh
# The README's demo story on three Vagrant VMs (libvirt), offline, on this machine:
#   box      build haflow/bookworm64 with build-box.sh unless Vagrant has it
#   up       `vagrant up`: 3 VMs provisioned, the cluster formed with pcs host
#            auth / pcs cluster setup, watchdog SBD fencing enabled
#   demo     validate, plan, submit --wait, status, crm_mon --resource
#   fence    virsh destroy the VM running step 'vm': the survivors see it fenced
#            by its watchdog, and the step adopted on a survivor (one effect)
#   abort    every step undone in reverse order, then history and remove
#   destroy  the VMs, libvirt's daemons, everything the run started
# It prints each phase's time and ends with "vagrant e2e: ok".
#
#   vagrant/e2e.sh [--smoke]     (as root; --smoke: one VM boots from the box, no cluster)
#
# Everything but the box build runs in a network and mount namespace of its
# own: libvirtd, virtlogd, dnsmasq, vagrant and the VMs, with libvirt's state
# under a scratch directory; the VMs' networks have no way out, so the box must
# carry every package (build-box.sh). Nothing is left in the host's root
# namespace: a trap ends what was started, by PID, also when a phase fails.
# Knobs: HAFLOW_BOX, HAFLOW_CPUS (1), HAFLOW_MEMORY (1280 MiB), HAFLOW_LIBVIRT_DRIVER,
# HAFLOW_E2E_KEEP=1 keeps the scratch directory (logs) after the run;
# HAFLOW_E2E_HOLD=1 keeps a failed run's VMs up until $state/hold is removed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
export HAFLOW_BOX="${HAFLOW_BOX:-haflow/bookworm64}"
export HAFLOW_CPUS="${HAFLOW_CPUS:-1}" HAFLOW_MEMORY="${HAFLOW_MEMORY:-1280}"
PACKAGES="qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients dnsmasq-base
  iptables vagrant vagrant-libvirt mmdebstrap extlinux syslinux-common fdisk rsync
  openssh-client"
smoke=no
case "${1:-}" in
    --smoke) smoke=yes ;;
    --inside|"") ;;
    *) echo "usage: $0 [--smoke]" >&2; exit 2 ;;
esac

die() { echo "vagrant e2e: $*" >&2; exit 1; }
started=$(date +%s) phase_start=$(date +%s)
phase() {  # the time the phase that ends here took, then the next one's name
    now=$(date +%s)
    [ -z "${phase_name:-}" ] || echo "vagrant e2e: phase $phase_name: $(( now - phase_start )) s"
    phase_name=$1 phase_start=$now
    [ "$1" = end ] || echo "vagrant e2e: phase $1 ..."
}

# ---------------------------------------------------------------- outside
install_packages() {
    # one query; a package dpkg never saw is named last on its error line
    # shellcheck disable=SC2086
    missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $PACKAGES 2>&1 \
        | awk '$1 != "ii" { printf " %s", $NF }')
    [ -n "$missing" ] || return 0
    echo "vagrant e2e: installing:$missing"
    # no daemon may start in the root namespace (libvirt's would bring up its
    # default network there): keep services from starting while installing
    guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        guard=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' > "$guard" && chmod 755 "$guard"
    fi
    export DEBIAN_FRONTEND=noninteractive
    ok=yes
    # shellcheck disable=SC2086
    { apt-get update -q && apt-get install -y -q --no-install-recommends $missing; } || ok=no
    [ -z "$guard" ] || rm -f "$guard"
    [ "$ok" = yes ] || die "installing$missing failed"
}

outside() {
    [ "$(id -u)" -eq 0 ] || die "run as root"
    phase packages
    install_packages
    phase box
    if vagrant box list 2>/dev/null | grep -q "^$HAFLOW_BOX "; then
        echo "vagrant e2e: box $HAFLOW_BOX is there"
    else
        [ "$HAFLOW_BOX" = haflow/bookworm64 ] || die "box $HAFLOW_BOX is missing"
        nice -n 10 sh "$here/build-box.sh" --name "$HAFLOW_BOX"
    fi
    state=$(mktemp -d /var/tmp/haflow-vagrant-e2e.XXXXXX)
    chmod 0755 "$state"
    inner=""
    netns=""
    # shellcheck disable=SC2317  # run by the trap
    outer_cleanup() {
        rc=$?
        if [ -n "$inner" ] && kill -0 "$inner" 2>/dev/null; then
            kill -TERM -- "-$inner" 2>/dev/null || true   # its process group: vagrant too
            wait "$inner" 2>/dev/null || true
        fi
        # whatever still runs in the run's own network namespace was started by it
        if [ -n "$netns" ]; then
            for proc in /proc/[0-9]*; do
                [ "$(readlink "$proc/ns/net" 2>/dev/null)" = "$netns" ] || continue
                echo "vagrant e2e: ending ${proc#/proc/} ($(tr '\0' ' ' < "$proc/cmdline" \
                    | cut -c1-80)), left in the run's namespace"
                kill -KILL "${proc#/proc/}" 2>/dev/null || true
            done
        fi
        if [ "${HAFLOW_E2E_KEEP:-}" = 1 ]; then
            echo "vagrant e2e: kept $state"
        else
            rm -rf "$state"
        fi
        echo "vagrant e2e: total $(( $(date +%s) - started )) s"
        if [ "$rc" -eq 0 ]; then echo "vagrant e2e: ok"; else echo "vagrant e2e: FAILED"; fi
    }
    trap outer_cleanup EXIT
    trap 'exit 130' INT TERM
    phase end
    # a process group of its own, so that the trap can end vagrant with it
    HAFLOW_E2E_STATE=$state HAFLOW_E2E_SMOKE=$smoke \
        setsid unshare --net --mount --propagation private sh "$0" --inside &
    inner=$!
    sleep 1
    netns=$(readlink "/proc/$inner/ns/net" 2>/dev/null || true)
    [ "$netns" != "$(readlink /proc/self/ns/net)" ] || die "no namespace of its own"
    rc=0
    wait "$inner" || rc=$?
    inner=""
    return "$rc"
}

# ---------------------------------------------------------------- inside
state=${HAFLOW_E2E_STATE:-}
libvirt_pids=""

# libvirt with its configuration and state under $state, seen only in this
# mount namespace; qemu runs as root here, so it can open the scratch files
private_libvirt() {
    mount -t tmpfs -o mode=0755 tmpfs /run
    mkdir -p /run/libvirt /run/lock "$state/etc" "$state/lib" "$state/log" "$state/cache"
    cp -a /etc/libvirt "$state/etc/libvirt"
    rm -rf "$state/etc/libvirt/qemu/networks" "$state/etc/libvirt/qemu/"*.xml
    # no cgroups: libvirt would make its "machine" groups in the host's cgroup
    # file systems, which no namespace here makes private
    printf '%s\n' 'user = "root"' 'group = "root"' 'security_driver = "none"' \
        'cgroup_controllers = [ ]' >> "$state/etc/libvirt/qemu.conf"
    cp -a /var/lib/libvirt "$state/lib/libvirt"
    mount --bind "$state/etc/libvirt" /etc/libvirt
    mount --bind "$state/lib/libvirt" /var/lib/libvirt
    mkdir -p /var/log/libvirt /var/cache/libvirt
    mount --bind "$state/log" /var/log/libvirt
    mount --bind "$state/cache" /var/cache/libvirt
    ip link set lo up
    nice -n 10 virtlogd --daemon --pid-file /run/virtlogd.pid
    nice -n 10 libvirtd --daemon --pid-file /run/libvirtd.pid
    libvirt_pids="$(cat /run/virtlogd.pid) $(cat /run/libvirtd.pid)"
    for _ in $(seq 60); do
        virsh -q -c qemu:///system version >/dev/null 2>&1 && return 0
        sleep 1
    done
    die "libvirtd did not answer (see $state/log)"
}

# shellcheck disable=SC2317  # run by the trap
inner_cleanup() {
    rc=$?
    set +e
    if [ "$rc" -ne 0 ] && [ "${HAFLOW_E2E_HOLD:-}" = 1 ]; then
        touch "$state/hold"
        echo "vagrant e2e: failed; holding the VMs until $state/hold is removed" \
            "(nsenter -t $$ -n -m sh: virsh, ssh -F $state/ssh-config node1)"
        while [ -e "$state/hold" ]; do sleep 5; done
    fi
    phase destroy
    if [ -d "$state/dot" ]; then
        (cd "$here" && timeout 600 vagrant destroy -f) || echo "vagrant e2e: vagrant destroy failed"
    fi
    for domain in $(virsh -c qemu:///system list --all --name 2>/dev/null); do
        virsh -q -c qemu:///system destroy "$domain" >/dev/null 2>&1
        virsh -q -c qemu:///system undefine --remove-all-storage "$domain" >/dev/null 2>&1
    done
    for net in $(virsh -c qemu:///system net-list --all --name 2>/dev/null); do
        virsh -q -c qemu:///system net-destroy "$net" >/dev/null 2>&1
    done
    for pid in $libvirt_pids; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in $libvirt_pids; do
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    done
    phase end
    exit "$rc"
}

on() {  # on NODE COMMAND...: a command on a VM, as root, shown as an admin types it
    node=$1
    shift
    echo "[$node]# $*"
    ssh -F "$state/ssh-config" -o LogLevel=ERROR "$node" sudo "$@"
}

quiet_on() {
    node=$1
    shift
    ssh -F "$state/ssh-config" -o LogLevel=ERROR "$node" sudo "$@"
}

where() {  # where NODE STEP: the node running the step, as NODE sees it
    quiet_on "$1" crm_resource --locate --resource "tenant.$2" 2>/dev/null \
        | sed -n 's/.* is running on: \([^ ]*\).*/\1/p' | head -n 1
}

wait_until() {  # wait_until SECONDS WHAT COMMAND...
    limit=$1 what=$2
    shift 2
    deadline=$(( $(date +%s) + limit ))
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || die "$what: not within ${limit}s"
        sleep 5
    done
}

vagrant_up() {
    export VAGRANT_DOTFILE_PATH="$state/dot" HAFLOW_SHARED_DIR="$state/shared"
    mkdir -p "$HAFLOW_SHARED_DIR"
    cd "$here"
    set -- --provider=libvirt
    [ "$smoke" = no ] || { export HAFLOW_NODES=1; set -- "$@" --no-provision node1; }
    # without the box upload's progress (thousands of lines ended by carriage returns)
    { rc=0; nice -n 10 vagrant up "$@" 2>&1 || rc=$?; echo "$rc" > "$state/up.rc"; } \
        | sed -u 's/.*\r//'
    [ "$(cat "$state/up.rc")" -eq 0 ] || die "vagrant up failed"
    vagrant ssh-config > "$state/ssh-config"
}

smoke_test() {
    on node1 uname -a
    on node1 sh -c 'systemctl is-system-running || true'
    on node1 ls /opt/haflow-wheels
}

demo() {
    shared=$state/shared
    # the README's demo workflow (lab/demo.py's), its test agent's state in the
    # directory every VM shares, its address on the VMs' private network
    python3 - "$here/../lab/demo.py" > "$shared/tenant.yaml" <<'EOF'
import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
text = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
            and getattr(node.targets[0], "id", "") == "WORKFLOW_TEXT")
print(text.format(state="/srv/haflow-shared/tenant-state", address="192.168.56.200"), end="")
EOF
    mkdir -p "$shared/tenant-state"
    on node1 pcs status
    on node1 haflow validate /srv/haflow-shared/tenant.yaml
    on node1 haflow plan /srv/haflow-shared/tenant.yaml
    on node1 haflow submit /srv/haflow-shared/tenant.yaml --wait --timeout 900
    on node1 haflow status tenant
    on node1 crm_mon -1 --resource=tenant
}

fence() {
    victim=$(where node1 vm)
    [ -n "$victim" ] || die "step 'vm' runs nowhere"
    survivor=node1
    [ "$victim" != node1 ] || survivor=node2
    domain=$(virsh -c qemu:///system list --name | grep "_$victim\$")
    echo "vagrant e2e: step 'vm' runs on $victim: its VM ($domain) is destroyed"
    echo "# virsh destroy $domain"
    virsh -c qemu:///system destroy "$domain"
    destroyed=$(date +%s)
    fenced() { quiet_on "$survivor" stonith_admin --history "$victim" 2>/dev/null \
                   | grep -q "successful"; }
    wait_until 600 "$victim fenced" fenced
    on "$survivor" stonith_admin --history "$victim"
    moved() { n=$(where "$survivor" vm); [ -n "$n" ] && [ "$n" != "$victim" ]; }
    wait_until 900 "step 'vm' started on a survivor" moved
    echo "vagrant e2e: $victim fenced by its watchdog; 'vm' runs on $(where "$survivor" vm)," \
        "$(( $(date +%s) - destroyed )) s after the VM was destroyed"
    on "$survivor" haflow wait tenant --timeout 900
    on "$survivor" haflow status tenant
    records=$shared/tenant-state/records.log
    cat "$records"
    made=$(awk -F '\t' '$3 == "tenant.vm" && $5 == "do"' "$records" | wc -l)
    adopted=$(awk -F '\t' -v v="$victim" '$3 == "tenant.vm" && $5 == "adopt" && $2 != v' \
        "$records" | wc -l)
    if [ "$made" -ne 1 ] || [ "$adopted" -lt 1 ]; then
        die "step 'vm': $made effects made, $adopted adoptions on a survivor"
    fi
    echo "vagrant e2e: one effect: 'vm' made once (on $victim), adopted on a survivor"
}

abort() {
    on "$survivor" haflow abort tenant
    rc=0
    on "$survivor" haflow wait tenant --timeout 900 || rc=$?
    [ "$rc" -eq 8 ] || die "haflow wait after abort exited $rc, not 8 (rolled back)"
    records=$shared/tenant-state/records.log
    cat "$records"
    # undo in reverse order: 'announce' (after configure and address) before 'vm'
    order=$(awk -F '\t' '$5 == "undo" { print $3 }' "$records" | tr '\n' ' ')
    [ "$order" = "tenant.announce tenant.vm " ] || die "undo order: $order"
    [ -z "$(ls "$shared/tenant-state/effects")" ] || die "effects left after the abort"
    echo "vagrant e2e: every step undone, in reverse order"
    sleep 6  # the alert agent writes what went well every few seconds
    on "$survivor" haflow history tenant
    on "$survivor" haflow remove tenant
}

inside() {
    [ -n "$state" ] || die "--inside is e2e.sh's own"
    smoke=${HAFLOW_E2E_SMOKE:-no}
    trap inner_cleanup EXIT
    trap 'exit 130' INT TERM
    phase libvirt
    private_libvirt
    phase up
    vagrant_up
    if [ "$smoke" = yes ]; then
        phase smoke
        smoke_test
        return 0
    fi
    phase demo
    demo
    phase fence
    fence
    phase abort
    abort
}

if [ "${1:-}" = --inside ]; then
    inside
else
    outside
fi
