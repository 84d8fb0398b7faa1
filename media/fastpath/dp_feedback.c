/* Transport-cc feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01), both ways:
 * built from the arrivals `ReceiverCore` recorded (what the publisher's congestion control
 * reads, every 100 ms), and taken out of the peer's incoming SRTCP (its feedback on what we
 * send it, for dp_transport.c) before the rest of the RTCP goes to aiortc.
 *
 * The same format media/twcc.py builds (`build_twcc_prefix`) and parses (`parse_twcc`, which
 * the tests read this output back with); here because it runs for every packet a publisher
 * sends. Statuses are written as two-bit status vector chunks (seven per chunk): simple, and
 * at 100 ms of video no larger than run-length chunks would be.
 */
#include "datapath.h"

#include <stdlib.h>
#include <string.h>

#define TICK_US 250
#define REFERENCE_US 64000
#define RESTART_GAP 5000 /* a jump this far is a new numbering, not a run of losses */

typedef struct {
    long long seq;
    long long at;
} Arrival;

static int by_seq(const void *a, const void *b) {
    long long x = ((const Arrival *)a)->seq, y = ((const Arrival *)b)->seq;
    return (x > y) - (x < y);
}

/* One FCI from arrivals[*i...] starting at sequence *seq; advances both. */
static PyObject *one_fci(ReceiverObject *self, Arrival *arrivals, int count, int *i,
                         long long *seq, int max_statuses) {
    long long base = *seq;
    long long reference = arrivals[*i].at / REFERENCE_US;
    long long previous = reference * (REFERENCE_US / TICK_US);
    unsigned char *symbols = PyMem_Malloc((size_t)max_statuses);
    unsigned char *deltas = PyMem_Malloc((size_t)max_statuses * 2);
    if (symbols == NULL || deltas == NULL) {
        PyMem_Free(symbols);
        PyMem_Free(deltas);
        return PyErr_NoMemory();
    }
    int statuses = 0, delta_len = 0;
    while (*i < count && statuses < max_statuses) {
        if (*seq < arrivals[*i].seq) {
            symbols[statuses++] = 0; /* not received */
            (*seq)++;
            continue;
        }
        long long delta = arrivals[*i].at / TICK_US - previous;
        if (delta >= 0 && delta <= 0xFF) {
            symbols[statuses++] = 1;
            deltas[delta_len++] = (unsigned char)delta;
        } else if (delta >= -0x8000 && delta <= 0x7FFF) {
            symbols[statuses++] = 2;
            deltas[delta_len++] = (unsigned char)((delta >> 8) & 0xFF);
            deltas[delta_len++] = (unsigned char)(delta & 0xFF);
        } else {
            break; /* the next feedback starts here, from its own reference */
        }
        previous = arrivals[*i].at / TICK_US;
        (*i)++;
        (*seq)++;
    }
    int chunks = (statuses + 6) / 7;
    Py_ssize_t size = 8 + 2 * chunks + delta_len;
    size += (4 - size % 4) % 4;
    PyObject *fci = PyBytes_FromStringAndSize(NULL, size);
    if (fci != NULL) {
        unsigned char *out = (unsigned char *)PyBytes_AS_STRING(fci);
        memset(out, 0, (size_t)size);
        out[0] = (unsigned char)((base >> 8) & 0xFF);
        out[1] = (unsigned char)(base & 0xFF);
        out[2] = (unsigned char)(statuses >> 8);
        out[3] = (unsigned char)statuses;
        out[4] = (unsigned char)((reference >> 16) & 0xFF);
        out[5] = (unsigned char)((reference >> 8) & 0xFF);
        out[6] = (unsigned char)(reference & 0xFF);
        out[7] = (unsigned char)(self->feedback_count++ & 0xFF);
        for (int c = 0; c < chunks; c++) {
            unsigned int chunk = 0xC000;
            for (int k = 0; k < 7; k++) {
                int at = c * 7 + k;
                chunk |= (unsigned int)(at < statuses ? symbols[at] : 0) << (12 - 2 * k);
            }
            out[8 + 2 * c] = (unsigned char)(chunk >> 8);
            out[9 + 2 * c] = (unsigned char)chunk;
        }
        memcpy(out + 8 + 2 * chunks, deltas, (size_t)delta_len);
    }
    PyMem_Free(symbols);
    PyMem_Free(deltas);
    return fci;
}

PyObject *dp_receiver_feedback(ReceiverObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"max_statuses", NULL};
    int max_statuses = 1000;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|i", kwlist, &max_statuses)) return NULL;
    if (max_statuses < 1 || max_statuses > 0x3FFF) {
        PyErr_SetString(PyExc_ValueError, "max_statuses must be 1..16383");
        return NULL;
    }
    PyObject *list = PyList_New(0);
    if (list == NULL || self->arrival_count == 0) return list;
    Arrival *arrivals = PyMem_Malloc(sizeof(Arrival) * (size_t)self->arrival_count);
    if (arrivals == NULL) {
        Py_DECREF(list);
        return PyErr_NoMemory();
    }
    /* Unwrap the 16-bit numbers, each near the one before (the first near what comes next). */
    long long last = self->feedback_next >= 0 ? self->feedback_next
                                              : self->arrival_seq[self->arrival_head];
    for (int k = 0; k < self->arrival_count; k++) {
        int at = (self->arrival_head + k) % ARRIVALS;
        short step = (short)(unsigned short)(self->arrival_seq[at] - (unsigned short)(last & 0xFFFF));
        last += step;
        arrivals[k].seq = last;
        arrivals[k].at = self->arrival_us[at];
    }
    int count = self->arrival_count;
    self->arrival_head = self->arrival_count = 0;
    qsort(arrivals, (size_t)count, sizeof(Arrival), by_seq);
    int kept = 0; /* drop duplicates and what was already reported */
    for (int k = 0; k < count; k++) {
        if (self->feedback_next >= 0 && arrivals[k].seq < self->feedback_next) continue;
        if (kept && arrivals[kept - 1].seq == arrivals[k].seq) continue;
        arrivals[kept++] = arrivals[k];
    }
    int i = 0, known = self->feedback_next >= 0;
    long long seq = known ? self->feedback_next : 0;
    while (i < kept) {
        if (!known || arrivals[i].seq - seq > RESTART_GAP) seq = arrivals[i].seq;
        known = 1;
        PyObject *fci = one_fci(self, arrivals, kept, &i, &seq, max_statuses);
        if (fci == NULL || PyList_Append(list, fci) < 0) {
            Py_XDECREF(fci);
            Py_DECREF(list);
            PyMem_Free(arrivals);
            return NULL;
        }
        Py_DECREF(fci);
    }
    if (kept) self->feedback_next = seq;
    PyMem_Free(arrivals);
    return list;
}

/* ---- the peer's SRTCP: its transport-cc feedback here, the rest to Python --------------- */

#define RTCP_RTPFB 205
#define FMT_TRANSPORT_CC 15

PyObject *dp_receiver_set_feedback_link(PyObject *receiver, PyObject *link) {
    ReceiverObject *self = (ReceiverObject *)receiver;
    if (link != Py_None && !PyObject_TypeCheck(link, &LinkType)) {
        PyErr_SetString(PyExc_TypeError, "feedback link must be a LinkCore or None");
        return NULL;
    }
    Py_XSETREF(self->feedback_link, link == Py_None ? NULL : Py_NewRef(link));
    Py_RETURN_NONE;
}

int dp_receiver_rtcp_keyed(PyObject *receiver) {
    return ((ReceiverObject *)receiver)->unprotect_rtcp != NULL;
}

/* One SRTCP datagram: its transport-cc feedback goes to the feedback link; None if nothing is
 * left, else the remaining compound as plaintext (for aiortc). ValueError if it does not
 * unprotect or is not a compound RTCP packet. */
PyObject *dp_receive_rtcp(PyObject *receiver, const char *data, Py_ssize_t n) {
    ReceiverObject *self = (ReceiverObject *)receiver;
    if (self->unprotect_rtcp == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "receiver is not keyed for RTCP");
        return NULL;
    }
    if (n < 8 || n > MAX_PLAIN + 64) {
        PyErr_SetString(PyExc_ValueError, "RTCP packet length is invalid");
        return NULL;
    }
    unsigned char *p = self->buffer;
    memcpy(p, data, (size_t)n);
    int len = (int)n;
    int rc = self->unprotect_rtcp(self->ctx, p, &len);
    if (rc) {
        PyErr_Format(PyExc_ValueError, "srtp_unprotect_rtcp failed (%d)", rc);
        return NULL;
    }
    unsigned char rest[MAX_PLAIN + 64];
    Py_ssize_t rest_len = 0, pos = 0;
    while (pos + 4 <= len) {
        Py_ssize_t end = pos + 4 * ((((Py_ssize_t)p[pos + 2] << 8) | p[pos + 3]) + 1);
        if (end > len || (p[pos] >> 6) != 2) {
            PyErr_SetString(PyExc_ValueError, "RTCP compound packet is malformed");
            return NULL;
        }
        if (p[pos + 1] == RTCP_RTPFB && (p[pos] & 0x1F) == FMT_TRANSPORT_CC) {
            if (self->feedback_link != NULL && end - pos >= 12 &&
                dp_link_feedback_raw(self->feedback_link, p + pos + 12, end - pos - 12) < 0) {
                if (!PyErr_ExceptionMatches(PyExc_ValueError)) return NULL;
                PyErr_Clear(); /* malformed feedback: counted on the link, nothing else */
            }
        } else {
            memcpy(rest + rest_len, p + pos, (size_t)(end - pos));
            rest_len += end - pos;
        }
        pos = end;
    }
    if (pos != len) {
        PyErr_SetString(PyExc_ValueError, "RTCP compound packet is malformed");
        return NULL;
    }
    if (rest_len == 0) Py_RETURN_NONE;
    return PyBytes_FromStringAndSize((const char *)rest, rest_len);
}

PyObject *dp_receiver_rtcp(PyObject *receiver, PyObject *arg) {
    char *data;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(arg, &data, &n) < 0) return NULL;
    return dp_receive_rtcp(receiver, data, n);
}

/* Build this round's feedback, wrap it as RTPFB packets, protect and send it on `link`. */
PyObject *dp_receiver_send_feedback(PyObject *receiver, PyObject *args) {
    PyObject *link_obj;
    unsigned int sender_ssrc, media_ssrc;
    if (!PyArg_ParseTuple(args, "O!II", &LinkType, &link_obj, &sender_ssrc, &media_ssrc))
        return NULL;
    LinkObject *link = (LinkObject *)link_obj;
    PyObject *no_args = PyTuple_New(0);
    if (no_args == NULL) return NULL;
    PyObject *fcis = dp_receiver_feedback((ReceiverObject *)receiver, no_args, NULL);
    Py_DECREF(no_args);
    if (fcis == NULL) return NULL;
    Py_ssize_t count = PyList_GET_SIZE(fcis);
    if (count == 0 || link->protect_rtcp == NULL) {
        Py_DECREF(fcis);
        Py_RETURN_NONE; /* nothing to say, or no keys yet (this round's arrivals are dropped) */
    }
    unsigned char packet[MAX_PLAIN];
    Py_ssize_t len = 0;
    PyObject *result = Py_None;
    Py_INCREF(result);
    for (Py_ssize_t i = 0; i <= count; i++) {
        PyObject *fci = i < count ? PyList_GET_ITEM(fcis, i) : NULL;
        Py_ssize_t size = fci ? PyBytes_GET_SIZE(fci) : 0;
        if (len && (fci == NULL || len + 12 + size > MAX_PLAIN - 64)) {
            /* flush the compound built so far */
            memcpy(link->buffer, packet, (size_t)len);
            int n = (int)len;
            if (link->protect_rtcp(link->ctx, link->buffer, &n) == 0) {
                if (link->fd >= 0) {
                    link_sendto_raw(link, link->buffer, (size_t)n);
                } else {
                    Py_DECREF(result); /* a relayed link: Python queues it (last one wins) */
                    result = PyBytes_FromStringAndSize((const char *)link->buffer, n);
                    if (result == NULL) break;
                }
            }
            len = 0;
        }
        if (fci == NULL || size + 12 > MAX_PLAIN - 64) continue;
        unsigned int words = (unsigned int)(2 + size / 4);
        unsigned char *h = packet + len;
        h[0] = 0x80 | FMT_TRANSPORT_CC;
        h[1] = RTCP_RTPFB;
        h[2] = (unsigned char)(words >> 8);
        h[3] = (unsigned char)words;
        for (int k = 0; k < 4; k++) {
            h[4 + k] = (unsigned char)(sender_ssrc >> (24 - 8 * k));
            h[8 + k] = (unsigned char)(media_ssrc >> (24 - 8 * k));
        }
        memcpy(h + 12, PyBytes_AS_STRING(fci), (size_t)size);
        len += 12 + size;
    }
    Py_DECREF(fcis);
    return result;
}
