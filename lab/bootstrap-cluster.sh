#!/bin/sh
# Form a cluster the way an admin does: authenticate pcsd on every node, then
# `pcs cluster setup`. Run once, on one node, after provision-node.sh ran on
# every node. The lab runs it in node1; vagrant/ on the last VM.
#
#   bootstrap-cluster.sh --cluster NAME --nodes "node1=ADDR node2=ADDR ..."
#                        --password-file FILE [--token MS] [--wait SECONDS]
#                        [--request-timeout SECONDS] [--pcsd-url URL]
#
# --wait: how long to wait for every node to be ready, that is, for its pcsd to
# accept hacluster's password (Vagrant sets the password as a node's last
# provisioning step, and may provision the nodes in any order or all at once).
# Without it, every node must be ready now. --request-timeout: pcs's timeout
# for each request to another node's pcsd (pcs's default is 60 s); slow VMs
# need more. --pcsd-url: where this node's pcsd listens (https://localhost:2224).
# It does not start the cluster: the lab's node init starts corosync and pacemaker,
# VMs start it with pcs once fencing is configured (vagrant/configure-fencing.sh).
set -eu

usage() {
    echo "usage: $0 --cluster NAME --nodes 'NAME=ADDR ...' --password-file FILE" \
         "[--token MS] [--wait SECONDS] [--request-timeout SECONDS] [--pcsd-url URL]" >&2
    exit 2
}

cluster="" nodes="" password_file="" token=1000 wait=0 request_timeout=60
pcsd_url=https://localhost:2224
while [ $# -gt 0 ]; do
    case "$1" in
        --cluster) cluster=$2; shift 2 ;;
        --nodes) nodes=$2; shift 2 ;;
        --password-file) password_file=$2; shift 2 ;;
        --token) token=$2; shift 2 ;;
        --wait) wait=$2; shift 2 ;;
        --request-timeout) request_timeout=$2; shift 2 ;;
        --pcsd-url) pcsd_url=$2; shift 2 ;;
        *) usage ;;
    esac
done
if [ -z "$cluster" ] || [ -z "$nodes" ] || [ -z "$password_file" ]; then usage; fi

names=""
for entry in $nodes; do
    names="$names ${entry%%=*}"
done

# Authenticate every node at once; when that fails, each node alone, so the
# nodes that are ready are kept and only those that are not (pcsd not up yet, or
# hacluster's password not set yet) are tried again, until the deadline.
auth() {
    # shellcheck disable=SC2086  # word splitting of the node list is intended
    pcs --request-timeout="$request_timeout" host auth $1 -u hacluster \
        -p "$(cat "$password_file")" 2>&1
}
deadline=$(( $(date +%s) + wait ))
pending=$names
until [ -z "$pending" ] || auth "$pending" >/dev/null; do
    still=""
    for name in $pending; do
        out=$(auth "$name") || { still="$still $name"; last_error="$name: $out"; }
    done
    pending=$still
    [ -n "$pending" ] || break
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "bootstrap-cluster: nodes not ready after ${wait}s:$pending" >&2
        echo "bootstrap-cluster: last answer from $last_error" >&2
        exit 1
    fi
    echo "bootstrap-cluster: waiting for$pending"
    sleep 5
done
echo "bootstrap-cluster: authorized$names"

# pcs says "Authorized" but keeps no token when it takes this node for a member
# of another cluster (Debian's packaged default one): say so here, not later as
# "hosts are not known to pcs"
for name in $names; do
    grep -qs "\"$name\"" /var/lib/pcsd/known-hosts \
        || { echo "bootstrap-cluster: pcs host auth kept no token for $name" \
                  "(/var/lib/pcsd/known-hosts): is this node in another cluster?" >&2
             exit 1; }
done
# `pcs cluster setup`, with the request timeout it does not take on the command
# line (its requests time out after pcs's fixed 60 s): this node's pcsd runs
# the same library command for us through its API (POST /api/v2/task/run,
# cluster.setup), whose options do take one. Its first request, check_host,
# asks every node at once which services it has (pcsd runs pcs_internal, which
# runs systemctl 15 times): under QEMU's software emulation that costs a node
# half a minute of CPU, and three VMs sharing two host cores answer it after
# more than 60 s, every time.
echo "bootstrap-cluster: pcs cluster setup $cluster (through pcsd, ${request_timeout}s per request)"
# shellcheck disable=SC2086  # word splitting of the node list is intended
python3 - "$pcsd_url" "$password_file" "$request_timeout" "$cluster" "$token" $nodes <<'EOF'
import json
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

url, password_file, request_timeout, cluster, token_ms, *entries = sys.argv[1:]
# pcsd's certificate is self-signed, and this is the node's own pcsd
tls = ssl.create_default_context()
tls.check_hostname = False
tls.verify_mode = ssl.CERT_NONE


def post(path, body, headers):
    request = urllib.request.Request(url + path, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, context=tls) as response:
            return response.read().decode()
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")
        try:
            detail = json.loads(detail).get("error_message") or detail
        except ValueError:
            pass
        sys.exit(f"Error: pcsd at {url} answered {path} with {e.code} {e.reason}: {detail}")
    except OSError as e:
        sys.exit(f"Error: cannot reach pcsd at {url}: {getattr(e, 'reason', e)}")


with open(password_file) as fh:
    password = fh.read().rstrip("\n")  # as "$(cat FILE)" gives it to pcs host auth
session = post("/remote/auth",
               urllib.parse.urlencode({"username": "hacluster", "password": password}).encode(),
               {"Content-Type": "application/x-www-form-urlencoded"})
if not session:  # pcsd's answer to a wrong password is an empty body
    sys.exit(f"Error: pcsd at {url} refused hacluster's password")
command = {
    "command_name": "cluster.setup",
    # what `pcs cluster setup NAME NODE addr=ADDR... transport knet totem token=MS`
    # hands pcs's library
    "params": {
        "cluster_name": cluster,
        "nodes": [{"name": e.split("=", 1)[0], "addrs": [e.split("=", 1)[1]]} for e in entries],
        "transport_type": "knet", "transport_options": {}, "link_list": [],
        "compression_options": {}, "crypto_options": {},
        "totem_options": {"token": token_ms}, "quorum_options": {},
    },
    "options": {"request_timeout": int(request_timeout)},
}
result = json.loads(post("/api/v2/task/run", json.dumps(command).encode(),
                         {"Content-Type": "application/json", "Cookie": f"token={session}"}))
prefixes = {"ERROR": "Error: ", "WARNING": "Warning: ", "DEPRECATION": "Deprecation Warning: ",
            "INFO": ""}
for report in result["reports"]:
    prefix = prefixes.get(report["severity"]["level"])
    if prefix is None:  # debug
        continue
    node = f"{report['context']['node']}: " if report.get("context") else ""
    print(f"{prefix}{node}{report['message']['message']}",
          file=sys.stdout if prefix == "" else sys.stderr)
if result["task_finish_type"] != "SUCCESS":
    reason = f" ({result['kill_reason']})" if result.get("kill_reason") else ""
    sys.exit(f"Error: pcs cluster setup failed: {result['task_finish_type']}{reason}")
EOF
