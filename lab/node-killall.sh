#!/bin/sh
# killall for a lab node, bound over /usr/bin/killall inside it.
#
# Lab nodes share the host's process-ID namespace, and `pcs cluster setup`
# (through `pcs cluster destroy`) runs `killall -9 corosync pacemakerd ...`:
# the real killall would kill the daemons of every lab on the machine. This
# one signals only processes in the caller's network namespace, i.e. the
# processes of this node. It takes the options pcs and admins use:
# -SIGNAL, -s/--signal SIGNAL, -q/--quiet, --.
set -u
sig=TERM
quiet=0
while [ $# -gt 0 ]; do
    case "$1" in
        -q|--quiet) quiet=1 ;;
        -s|--signal) sig=$2; shift ;;
        --) shift; break ;;
        -[0-9]*|-[A-Z]*) sig=${1#-} ;;
        -*) ;;
        *) break ;;
    esac
    shift
done
[ $# -gt 0 ] || { echo "usage: killall [-SIGNAL] [-q] NAME..." >&2; exit 2; }
mine=$(readlink /proc/self/ns/net)
status=1
for name in "$@"; do
    short=$(printf '%.15s' "$name")  # the kernel keeps 15 characters of a command name
    hit=0
    for dir in /proc/[0-9]*; do
        [ "$(readlink "$dir/ns/net" 2>/dev/null)" = "$mine" ] || continue
        [ "$(cat "$dir/comm" 2>/dev/null)" = "$short" ] || continue
        kill "-$sig" "${dir#/proc/}" 2>/dev/null && hit=1
    done
    if [ "$hit" -eq 1 ]; then
        status=0
    elif [ "$quiet" -eq 0 ]; then
        echo "$name: no process found" >&2
    fi
done
exit "$status"
