/* Transport-wide congestion control on what we send: each downlink numbers its packets
 * (transport-cc extension), remembers when it sent which, and reads the subscriber's
 * feedback back into (number, sent, size, arrived) for congestion control (media/control.py).
 *
 * The feedback format is parsed as media/twcc.py `parse_twcc` does (the tests' oracle); here
 * because a subscriber reports on every packet we send it.
 */
#include "datapath.h"

#include <string.h>

#define MAX_STATUSES (1 << 14)

/* Append the transport-cc element with the link's next number to the extension block at
 * `ext` (`ext_len` bytes, 0 for none; room for 8 more) and remember the send. Returns the
 * new block length. */
int dp_link_stamp(PyObject *link_obj, unsigned char *ext, Py_ssize_t ext_len,
                  Py_ssize_t wire_len) {
    LinkObject *link = (LinkObject *)link_obj;
    unsigned int seq = link->tcc_seq & 0xFFFF;
    link->tcc_seq = (seq + 1) & 0xFFFF;
    int at = (int)(seq % SENT_HISTORY);
    link->sent_seq[at] = (int)seq;
    link->sent_us[at] = (long long)(dp_monotonic() * 1e6);
    link->sent_size[at] = (int)wire_len + 3 + 40; /* with this element, IP, UDP, SRTP tag */
    Py_ssize_t end = 0;
    if (ext_len == 0) {
        ext[0] = 0xBE;
        ext[1] = 0xDE;
    } else {
        Py_ssize_t body = ext_len - 4;
        while (end < body && ext[4 + end] != 0 && (ext[4 + end] >> 4) != 15)
            end += 2 + (ext[4 + end] & 0x0F);
        if (end > body) end = body; /* a malformed template: append at its end */
    }
    unsigned char *element = ext + 4 + end;
    element[0] = (unsigned char)((link->tcc_id << 4) | 1);
    element[1] = (unsigned char)(seq >> 8);
    element[2] = (unsigned char)seq;
    end += 3;
    while (end % 4) ext[4 + end++] = 0;
    ext[2] = (unsigned char)((end / 4) >> 8);
    ext[3] = (unsigned char)(end / 4);
    return (int)(4 + end);
}

/* One transport-cc feedback FCI from the subscriber: the packets it reports on that this
 * link still remembers go to the link's trendline and acked bitrate (dp_trend.c), and are
 * counted (received, lost) for congestion control to take. 0, or -1 with ValueError (a
 * malformed FCI, also counted) or MemoryError set. */
int dp_link_feedback_raw(PyObject *link_obj, const unsigned char *p, Py_ssize_t n) {
    LinkObject *link = (LinkObject *)link_obj;
    if (n < 8) goto malformed;
    unsigned int base = ((unsigned int)p[0] << 8) | p[1];
    int count = (p[2] << 8) | p[3];
    long long reference = ((long long)p[4] << 16) | ((long long)p[5] << 8) | p[6];
    if (reference & 0x800000) reference -= 0x1000000;
    if (count > MAX_STATUSES) goto malformed;
    unsigned char symbols[MAX_STATUSES];
    Py_ssize_t pos = 8;
    int have = 0;
    while (have < count) {
        if (pos + 2 > n) goto malformed;
        unsigned int chunk = ((unsigned int)p[pos] << 8) | p[pos + 1];
        pos += 2;
        if (!(chunk & 0x8000)) { /* run length */
            int symbol = (chunk >> 13) & 3, run = chunk & 0x1FFF;
            for (int k = 0; k < run && have < count; k++) symbols[have++] = (unsigned char)symbol;
        } else if (!(chunk & 0x4000)) { /* 14 one-bit symbols */
            for (int k = 13; k >= 0 && have < count; k--)
                symbols[have++] = (unsigned char)((chunk >> k) & 1);
        } else { /* 7 two-bit symbols */
            for (int k = 6; k >= 0 && have < count; k--)
                symbols[have++] = (unsigned char)((chunk >> (2 * k)) & 3);
        }
    }
    TrendPacket *packets = PyMem_Malloc(sizeof(TrendPacket) * (size_t)(count ? count : 1));
    if (packets == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    int used = 0, received = 0, lost = 0;
    long long arrival = reference * 64000;
    for (int i = 0; i < count; i++) {
        unsigned int seq = (base + (unsigned int)i) & 0xFFFF;
        int got = symbols[i] == 1 || symbols[i] == 2;
        if (symbols[i] == 1) {
            if (pos + 1 > n) goto malformed_packets;
            arrival += (long long)p[pos] * 250;
            pos += 1;
        } else if (symbols[i] == 2) {
            if (pos + 2 > n) goto malformed_packets;
            arrival += (long long)(short)((p[pos] << 8) | p[pos + 1]) * 250;
            pos += 2;
        }
        int at = (int)(seq % SENT_HISTORY);
        if (link->sent_seq[at] != (int)seq) continue; /* forgotten, or never ours */
        packets[used].seq = seq;
        packets[used].send_us = link->sent_us[at];
        packets[used].size = link->sent_size[at];
        packets[used].arrival_us = got ? arrival : -1;
        used++;
        if (got) received++;
        else lost++;
    }
    if (link->trend == NULL) link->trend = dp_trend_new();
    if (link->trend == NULL) {
        PyMem_Free(packets);
        PyErr_NoMemory();
        return -1;
    }
    dp_trend_update(link->trend, packets, used, (long long)(dp_monotonic() * 1e6));
    PyMem_Free(packets);
    link->tcc_received += received;
    link->tcc_lost += lost;
    return 0;
malformed_packets:
    PyMem_Free(packets);
malformed:
    link->tcc_malformed++;
    PyErr_SetString(PyExc_ValueError, "transport-cc feedback is malformed");
    return -1;
}

PyObject *dp_link_feedback(PyObject *link, PyObject *arg) {
    char *data;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(arg, &data, &n) < 0) return NULL;
    if (dp_link_feedback_raw(link, (const unsigned char *)data, n) < 0) return NULL;
    Py_RETURN_NONE;
}

/* (received, lost, malformed) since the last call. */
PyObject *dp_link_take_counts(PyObject *link_obj, PyObject *unused) {
    LinkObject *link = (LinkObject *)link_obj;
    PyObject *counts =
        Py_BuildValue("(LLL)", link->tcc_received, link->tcc_lost, link->tcc_malformed);
    link->tcc_received = link->tcc_lost = link->tcc_malformed = 0;
    return counts;
}
