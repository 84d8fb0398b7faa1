/* The C data path: a forwarded packet's way from the socket to the subscribers' sockets.
 *
 * Why C: in Python the steps around SRTP and the two syscalls cost several times what those
 * cost themselves (bench/sfu.py's `ratio_to_limit`, docs/architecture.md). The module has
 * four parts: dp_socket.c reads the ICE sockets; dp_route.c unprotects, parses and routes
 * steady streams; dp_receive.c does a source's per-packet bookkeeping and fan-out; dp_send.c
 * rebases, rewrites, protects and sends per slot, and keeps the NACK history.
 *
 * Every type is the base of (or used by) a Python class that keeps all decisions
 * (media/source.py, media/forwarder.py, media/rewrite.py, media/fastpath/): C runs only the
 * steady case, and anything else (a new SSRC, a gap, a cut or a switch, a paused slot, a TURN
 * pair, a test's fake socket or SRTP session) falls back to the Python method it replaces,
 * on the same state.
 *
 * libsrtp is reached through the function pointers pylibsrtp exports (media/fastpath/
 * receive.py `srtp_entry`): no second copy of libsrtp, the sessions aiortc keyed. Only the
 * event-loop thread calls in here (libsrtp sessions are not thread-safe).
 */
#include "datapath.h"

/* ---- module ---------------------------------------------------------------------------- */

static struct PyModuleDef datapath_module = {
    PyModuleDef_HEAD_INIT, "_datapath",
    "The per-packet tail of forwarding in C (see media/fastpath/_datapath.c).", -1, NULL};

PyMODINIT_FUNC PyInit__datapath(void) {
    PyTypeObject *types[] = {&RewriterType, &LinkType,   &OutputType,   &SlotType,
                             &StatsType,    &LayerType,  &SourceType,   &RouteType,
                             &ReceiverType, &ReaderType, &TrendType};
    const char *names[] = {"RewriterCore", "LinkCore",     "OutputCore", "SlotCore",
                           "StatsCore",    "LayerCore",    "SourceCore", "Route",
                           "ReceiverCore", "SocketReader", "TrendCore"};
    const int count = sizeof(types) / sizeof(types[0]);
    for (int i = 0; i < count; i++)
        if (PyType_Ready(types[i]) < 0) return NULL;
    PyObject *m = PyModule_Create(&datapath_module);
    if (m == NULL) return NULL;
    for (int i = 0; i < count; i++) {
        Py_INCREF(types[i]);
        if (PyModule_AddObject(m, names[i], (PyObject *)types[i]) < 0) {
            Py_DECREF(types[i]);
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}
