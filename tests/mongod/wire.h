/* wire.h: the MongoDB wire protocol on one connection (wire.c). */
#ifndef MNO_TEST_MONGOD_WIRE_H
#define MNO_TEST_MONGOD_WIRE_H

/* Serves messages on fd until the client closes, an error, or a fault drops it; does not close fd. */
void wire_serve(int fd);

#endif
