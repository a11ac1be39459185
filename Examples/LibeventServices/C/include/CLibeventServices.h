// Plain libevent C code, written the way existing C code is: it knows nothing of Greenloop and
// takes a `struct event_base *`. Greenloop's examples and tests link it to show that such code
// runs on the loop the greenlets run on (see LibeventAdapter's SharedEventBase).
#ifndef C_LIBEVENT_SERVICES_H
#define C_LIBEVENT_SERVICES_H

#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <stddef.h>

struct event_base;

// MARK: A line server (bufferevents)

/// A TCP server on 127.0.0.1 that answers each line "x" with "n x", n counting the lines that
/// connection sent.
struct services_line_server;

/// Starts listening on 127.0.0.1:`port` (0 picks a free port). NULL on failure.
struct services_line_server *services_line_server_start(struct event_base *base, int port);
/// The port it listens on.
int services_line_server_port(const struct services_line_server *server);
/// Lines answered so far, over all connections.
long services_line_server_lines(const struct services_line_server *server);
/// Connections open now.
int services_line_server_connections(const struct services_line_server *server);
/// Closes the listener and every connection, and frees the server.
void services_line_server_free(struct services_line_server *server);

// MARK: An HTTP server (evhttp)

/// An evhttp server on 127.0.0.1: GET /hello answers "hello from evhttp\n"; GET /count answers
/// the number of requests served before it; anything else is a 404.
struct services_http_server;

/// Starts it on 127.0.0.1:`port` (0 picks a free port). NULL on failure.
struct services_http_server *services_http_server_start(struct event_base *base, int port);
int services_http_server_port(const struct services_http_server *server);
long services_http_server_requests(const struct services_http_server *server);
void services_http_server_free(struct services_http_server *server);

// MARK: A Redis client (hiredis' libevent adapter)

/// A reply, flattened: `kind` is 's' (string or status), 'i' (integer), 'n' (nil), 'a' (array,
/// `integer` elements), 'e' (error reply, text in `text`) or 'x' (no reply: the connection
/// failed or closed, reason in `text`).
struct services_redis_reply {
    char kind;
    const char *text;
    size_t length;
    long long integer;
};

/// Called once per command, on the loop's thread.
typedef void (*services_redis_reply_fn)(const struct services_redis_reply *reply, void *context);
/// Called once when the connection is up (`error` NULL) or failed, and once when it ends.
typedef void (*services_redis_status_fn)(int connected, const char *error, void *context);

struct services_redis;

/// Connects asynchronously through `redisLibeventAttach`. NULL when hiredis could not even start.
struct services_redis *services_redis_connect(struct event_base *base, const char *host, int port,
                                              services_redis_status_fn on_status, void *status_context);
/// Sends a command given as `argc` binary-safe arguments; `on_reply` runs once, with kind 'x' if
/// the connection ends first. Returns 0, or -1 when the connection is already gone.
int services_redis_command(struct services_redis *redis, int argc, const char **argv, const size_t *lengths,
                           services_redis_reply_fn on_reply, void *context);
/// Disconnects (pending replies still arrive first); the object is freed when hiredis is done
/// with it, after the status callback reported the end.
void services_redis_disconnect(struct services_redis *redis);

#endif
