"""cffi build script (API mode) for haflow's Corosync bindings.

Used by setup.py's ``cffi_modules``; it can also be run directly
(``python coordinator/corosync/_build.py``) to build the extension in place.
Only the parts of Corosync's client API that haflow uses are declared here;
``...`` lets the C compiler fill in the real struct layouts from the headers.
"""

from __future__ import annotations

import os
from pathlib import Path

from cffi import FFI  # type: ignore[import-untyped,unused-ignore]

# import name of the compiled module (setup.py maps haflow.coordinator -> coordinator/)
MODULE = "haflow.coordinator.corosync._corosync_cffi"
LIBRARIES = ["cmap", "quorum", "votequorum", "cpg", "cfg"]
HEADERS = ["cmap.h", "quorum.h", "votequorum.h", "cpg.h", "cfg.h"]

CDEF = """
typedef int64_t cs_time_t;
typedef enum {
    CS_DISPATCH_ONE = 1, CS_DISPATCH_ALL = 2, CS_DISPATCH_BLOCKING = 3,
    CS_DISPATCH_ONE_NONBLOCKING = 4
} cs_dispatch_flags_t;
#define CS_TRACK_CURRENT ...
#define CS_TRACK_CHANGES ...
#define CS_TRACK_CHANGES_ONLY ...
typedef enum { CS_OK = 1, ... } cs_error_t;
const char *cs_strerror(cs_error_t err);
void free(void *ptr);

/* cmap */
typedef uint64_t cmap_handle_t;
typedef uint64_t cmap_iter_handle_t;
typedef uint64_t cmap_track_handle_t;
#define CMAP_KEYNAME_MAXLEN ...
#define CMAP_TRACK_ADD ...
#define CMAP_TRACK_DELETE ...
#define CMAP_TRACK_MODIFY ...
#define CMAP_TRACK_PREFIX ...
typedef enum {
    CMAP_VALUETYPE_INT8 = 1, CMAP_VALUETYPE_UINT8 = 2, CMAP_VALUETYPE_INT16 = 3,
    CMAP_VALUETYPE_UINT16 = 4, CMAP_VALUETYPE_INT32 = 5, CMAP_VALUETYPE_UINT32 = 6,
    CMAP_VALUETYPE_INT64 = 7, CMAP_VALUETYPE_UINT64 = 8, CMAP_VALUETYPE_FLOAT = 9,
    CMAP_VALUETYPE_DOUBLE = 10, CMAP_VALUETYPE_STRING = 11, CMAP_VALUETYPE_BINARY = 12
} cmap_value_types_t;
typedef enum { CMAP_MAP_DEFAULT = 0, CMAP_MAP_ICMAP = 0, CMAP_MAP_STATS = 1 } cmap_map_t;
struct cmap_notify_value { cmap_value_types_t type; size_t len; const void *data; };
typedef void (*cmap_notify_fn_t)(cmap_handle_t, cmap_track_handle_t, int32_t, const char *,
                                 struct cmap_notify_value, struct cmap_notify_value, void *);
cs_error_t cmap_initialize_map(cmap_handle_t *handle, cmap_map_t map);
cs_error_t cmap_finalize(cmap_handle_t handle);
cs_error_t cmap_fd_get(cmap_handle_t handle, int *fd);
cs_error_t cmap_dispatch(cmap_handle_t handle, cs_dispatch_flags_t dispatch_types);
cs_error_t cmap_get(cmap_handle_t handle, const char *key_name, void *value, size_t *value_len,
                    cmap_value_types_t *type);
cs_error_t cmap_iter_init(cmap_handle_t handle, const char *prefix,
                          cmap_iter_handle_t *cmap_iter_handle);
cs_error_t cmap_iter_next(cmap_handle_t handle, cmap_iter_handle_t iter_handle, char key_name[],
                          size_t *value_len, cmap_value_types_t *type);
cs_error_t cmap_iter_finalize(cmap_handle_t handle, cmap_iter_handle_t iter_handle);
cs_error_t cmap_track_add(cmap_handle_t handle, const char *key_name, int32_t track_type,
                          cmap_notify_fn_t notify_fn, void *user_data,
                          cmap_track_handle_t *cmap_track_handle);
cs_error_t cmap_track_delete(cmap_handle_t handle, cmap_track_handle_t track_handle);
extern "Python" void _cmap_notify(cmap_handle_t, cmap_track_handle_t, int32_t, const char *,
                                  struct cmap_notify_value, struct cmap_notify_value, void *);

/* quorum (model v1) */
typedef uint64_t quorum_handle_t;
typedef enum { QUORUM_MODEL_V0 = 0, QUORUM_MODEL_V1 = 1 } quorum_model_t;
struct quorum_ring_id { uint32_t nodeid; uint64_t seq; };
typedef void (*quorum_v1_quorum_notification_fn_t)(quorum_handle_t, uint32_t,
    struct quorum_ring_id, uint32_t, const uint32_t *);
typedef void (*quorum_v1_nodelist_notification_fn_t)(quorum_handle_t, struct quorum_ring_id,
    uint32_t, const uint32_t *, uint32_t, const uint32_t *, uint32_t, const uint32_t *);
typedef struct { quorum_model_t model; } quorum_model_data_t;
typedef struct {
    quorum_model_t model;
    quorum_v1_quorum_notification_fn_t quorum_notify_fn;
    quorum_v1_nodelist_notification_fn_t nodelist_notify_fn;
} quorum_model_v1_data_t;
#define QUORUM_FREE ...
#define QUORUM_SET ...
cs_error_t quorum_model_initialize(quorum_handle_t *handle, quorum_model_t model,
    quorum_model_data_t *model_data, uint32_t *quorum_type, void *context);
cs_error_t quorum_finalize(quorum_handle_t handle);
cs_error_t quorum_fd_get(quorum_handle_t handle, int *fd);
cs_error_t quorum_dispatch(quorum_handle_t handle, cs_dispatch_flags_t dispatch_types);
cs_error_t quorum_getquorate(quorum_handle_t handle, int *quorate);
cs_error_t quorum_trackstart(quorum_handle_t handle, unsigned int flags);
cs_error_t quorum_trackstop(quorum_handle_t handle);
cs_error_t quorum_context_get(quorum_handle_t handle, const void **context);
extern "Python" void _quorum_notify(quorum_handle_t, uint32_t, struct quorum_ring_id, uint32_t,
                                    const uint32_t *);
extern "Python" void _quorum_nodelist_notify(quorum_handle_t, struct quorum_ring_id, uint32_t,
    const uint32_t *, uint32_t, const uint32_t *, uint32_t, const uint32_t *);

/* votequorum */
typedef uint64_t votequorum_handle_t;
#define VOTEQUORUM_INFO_TWONODE ...
#define VOTEQUORUM_INFO_QUORATE ...
#define VOTEQUORUM_INFO_WAIT_FOR_ALL ...
#define VOTEQUORUM_INFO_LAST_MAN_STANDING ...
#define VOTEQUORUM_INFO_AUTO_TIE_BREAKER ...
#define VOTEQUORUM_INFO_ALLOW_DOWNSCALE ...
#define VOTEQUORUM_INFO_QDEVICE_REGISTERED ...
#define VOTEQUORUM_NODESTATE_MEMBER ...
#define VOTEQUORUM_NODESTATE_DEAD ...
#define VOTEQUORUM_NODESTATE_LEAVING ...
struct votequorum_info {
    unsigned int node_id; unsigned int node_state; unsigned int node_votes;
    unsigned int node_expected_votes; unsigned int highest_expected; unsigned int total_votes;
    unsigned int quorum; unsigned int flags; unsigned int qdevice_votes;
    char qdevice_name[...];
};
typedef struct { uint32_t nodeid; uint32_t state; } votequorum_node_t;
typedef struct { uint32_t nodeid; uint64_t seq; } votequorum_ring_id_t;
typedef void (*votequorum_quorum_notification_fn_t)(votequorum_handle_t, uint64_t, uint32_t,
    uint32_t, votequorum_node_t *);
typedef void (*votequorum_nodelist_notification_fn_t)(votequorum_handle_t, uint64_t,
    votequorum_ring_id_t, uint32_t, uint32_t *);
typedef void (*votequorum_expectedvotes_notification_fn_t)(votequorum_handle_t, uint64_t,
    uint32_t);
typedef struct {
    votequorum_quorum_notification_fn_t votequorum_quorum_notify_fn;
    votequorum_expectedvotes_notification_fn_t votequorum_expectedvotes_notify_fn;
    votequorum_nodelist_notification_fn_t votequorum_nodelist_notify_fn;
} votequorum_callbacks_t;
cs_error_t votequorum_initialize(votequorum_handle_t *handle, votequorum_callbacks_t *callbacks);
cs_error_t votequorum_finalize(votequorum_handle_t handle);
cs_error_t votequorum_dispatch(votequorum_handle_t handle, cs_dispatch_flags_t dispatch_types);
cs_error_t votequorum_fd_get(votequorum_handle_t handle, int *fd);
cs_error_t votequorum_getinfo(votequorum_handle_t handle, unsigned int nodeid,
                              struct votequorum_info *info);
cs_error_t votequorum_trackstart(votequorum_handle_t handle, uint64_t context,
                                 unsigned int flags);
cs_error_t votequorum_trackstop(votequorum_handle_t handle);
extern "Python" void _vq_quorum_notify(votequorum_handle_t, uint64_t, uint32_t, uint32_t,
                                       votequorum_node_t *);
extern "Python" void _vq_nodelist_notify(votequorum_handle_t, uint64_t, votequorum_ring_id_t,
                                         uint32_t, uint32_t *);
extern "Python" void _vq_expected_notify(votequorum_handle_t, uint64_t, uint32_t);

/* cpg */
typedef uint64_t cpg_handle_t;
typedef enum { CPG_TYPE_AGREED, CPG_TYPE_SAFE } cpg_guarantee_t;
typedef enum { CPG_FLOW_CONTROL_DISABLED, CPG_FLOW_CONTROL_ENABLED } cpg_flow_control_state_t;
typedef enum { CPG_MODEL_V1 = 1 } cpg_model_t;
struct cpg_address { uint32_t nodeid; uint32_t pid; uint32_t reason; };
#define CPG_MAX_NAME_LENGTH ...
#define CPG_MEMBERS_MAX ...
#define CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF ...
struct cpg_name { uint32_t length; char value[...]; };
struct cpg_ring_id { uint32_t nodeid; uint64_t seq; };
struct iovec { void *iov_base; size_t iov_len; ...; };
typedef void (*cpg_deliver_fn_t)(cpg_handle_t, const struct cpg_name *, uint32_t, uint32_t,
                                 void *, size_t);
typedef void (*cpg_confchg_fn_t)(cpg_handle_t, const struct cpg_name *,
    const struct cpg_address *, size_t, const struct cpg_address *, size_t,
    const struct cpg_address *, size_t);
typedef void (*cpg_totem_confchg_fn_t)(cpg_handle_t, struct cpg_ring_id, uint32_t,
                                       const uint32_t *);
typedef struct { cpg_model_t model; } cpg_model_data_t;
typedef struct {
    cpg_model_t model;
    cpg_deliver_fn_t cpg_deliver_fn;
    cpg_confchg_fn_t cpg_confchg_fn;
    cpg_totem_confchg_fn_t cpg_totem_confchg_fn;
    unsigned int flags;
} cpg_model_v1_data_t;
cs_error_t cpg_model_initialize(cpg_handle_t *handle, cpg_model_t model,
                                cpg_model_data_t *model_data, void *context);
cs_error_t cpg_finalize(cpg_handle_t handle);
cs_error_t cpg_fd_get(cpg_handle_t handle, int *fd);
cs_error_t cpg_dispatch(cpg_handle_t handle, cs_dispatch_flags_t dispatch_types);
cs_error_t cpg_join(cpg_handle_t handle, const struct cpg_name *group);
cs_error_t cpg_leave(cpg_handle_t handle, const struct cpg_name *group);
cs_error_t cpg_mcast_joined(cpg_handle_t handle, cpg_guarantee_t guarantee,
                            const struct iovec *iovec, unsigned int iov_len);
cs_error_t cpg_membership_get(cpg_handle_t handle, struct cpg_name *groupName,
                              struct cpg_address *member_list, int *member_list_entries);
cs_error_t cpg_local_get(cpg_handle_t handle, unsigned int *local_nodeid);
cs_error_t cpg_max_atomic_msgsize_get(cpg_handle_t handle, uint32_t *size);
cs_error_t cpg_flow_control_state_get(cpg_handle_t handle,
                                      cpg_flow_control_state_t *flow_control_enabled);
extern "Python" void _cpg_deliver(cpg_handle_t, const struct cpg_name *, uint32_t, uint32_t,
                                  void *, size_t);
extern "Python" void _cpg_confchg(cpg_handle_t, const struct cpg_name *,
    const struct cpg_address *, size_t, const struct cpg_address *, size_t,
    const struct cpg_address *, size_t);
extern "Python" void _cpg_totem_confchg(cpg_handle_t, struct cpg_ring_id, uint32_t,
                                        const uint32_t *);

/* cfg */
typedef uint64_t corosync_cfg_handle_t;
typedef enum { COROSYNC_CFG_SHUTDOWN_FLAG_REQUEST = 0, ... } corosync_cfg_shutdown_flags_t;
typedef void (*corosync_cfg_shutdown_callback_t)(corosync_cfg_handle_t,
                                                 corosync_cfg_shutdown_flags_t);
typedef struct {
    corosync_cfg_shutdown_callback_t corosync_cfg_shutdown_callback;
} corosync_cfg_callbacks_t;
typedef enum { CFG_NODE_STATUS_V1 = 1 } corosync_cfg_node_status_version_t;
#define CFG_MAX_LINKS ...
struct corosync_knet_link_status_v1 {
    uint8_t enabled; uint8_t connected; uint8_t dynconnected; unsigned int mtu;
    char src_ipaddr[...]; char dst_ipaddr[...];
};
struct corosync_cfg_node_status_v1 {
    corosync_cfg_node_status_version_t version; unsigned int nodeid;
    uint8_t reachable; uint8_t remote; uint8_t external;
    uint8_t onwire_min; uint8_t onwire_max; uint8_t onwire_ver;
    struct corosync_knet_link_status_v1 link_status[...];
};
cs_error_t corosync_cfg_initialize(corosync_cfg_handle_t *cfg_handle,
                                   const corosync_cfg_callbacks_t *cfg_callbacks);
cs_error_t corosync_cfg_fd_get(corosync_cfg_handle_t cfg_handle, int32_t *selection_fd);
cs_error_t corosync_cfg_dispatch(corosync_cfg_handle_t cfg_handle,
                                 cs_dispatch_flags_t dispatch_flags);
cs_error_t corosync_cfg_finalize(corosync_cfg_handle_t cfg_handle);
cs_error_t corosync_cfg_local_get(corosync_cfg_handle_t handle, unsigned int *local_nodeid);
cs_error_t corosync_cfg_node_status_get(corosync_cfg_handle_t cfg_handle, unsigned int nodeid,
    corosync_cfg_node_status_version_t version, void *node_status);
cs_error_t corosync_cfg_ring_status_get(corosync_cfg_handle_t cfg_handle,
    char ***interface_names, char ***status, unsigned int *interface_count);
"""

SOURCE = """
#include <stdlib.h>
#include <sys/uio.h>
#include <corosync/corotypes.h>
#include <corosync/cmap.h>
#include <corosync/quorum.h>
#include <corosync/votequorum.h>
#include <corosync/cpg.h>
#include <corosync/cfg.h>
"""

INCLUDE_DIR = Path(os.environ.get("HAFLOW_COROSYNC_INCLUDE", "/usr/include")) / "corosync"


def missing_headers(include_dir: Path = INCLUDE_DIR) -> list[str]:
    """Headers the build needs that are not installed (empty: the extension can be built)."""
    return [h for h in ["corotypes.h", *HEADERS] if not (include_dir / h).exists()]


ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(MODULE, SOURCE, libraries=LIBRARIES)

if __name__ == "__main__":
    # direct run: build next to this file, as an in-place build would
    here = Path(__file__).resolve().parent
    ffibuilder.compile(tmpdir=str(here.parent.parent / "build" / "cffi"), verbose=True)
