/* transport_priv.h — the per-kind operation tables, for transport.c's dispatch. */
#ifndef EMSAGENT_TRANSPORT_PRIV_H
#define EMSAGENT_TRANSPORT_PRIV_H

#include "emsagent/transport.h"

extern const struct transport_ops transport_serial_ops; /* transport_serial.c */
extern const struct transport_ops transport_pty_ops;    /* transport_pty.c */
extern const struct transport_ops transport_tcp_ops;    /* transport_sock.c */
extern const struct transport_ops transport_unix_ops;   /* transport_sock.c */
extern const struct transport_ops transport_telnet_ops; /* transport_telnet.c */
extern const struct transport_ops transport_exec_ops;   /* transport_exec.c */
extern const struct transport_ops transport_file_ops;   /* transport_file.c */

#endif
