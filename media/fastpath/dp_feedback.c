/* Transport-cc feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01) from the arrivals
 * `ReceiverCore` recorded: what the publisher's congestion control reads, every 100 ms.
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
