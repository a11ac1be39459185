// The evhttp server both sides of the adapter benchmark run: answers every request with
// "hello\n". Plain libevent; it only needs an event_base.
#include "CBaselines.h"

#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

static void hello(struct evhttp_request *request, void *arg) {
    (void)arg;
    struct evbuffer *body = evbuffer_new();
    evbuffer_add(body, "hello\n", 6);
    evhttp_send_reply(request, HTTP_OK, "OK", body);
    evbuffer_free(body);
}

int greenloop_bench_http_start(struct event_base *base, int port) {
    struct evhttp *server = evhttp_new(base);
    if (server == NULL) return -1;
    evhttp_set_gencb(server, hello, NULL);
    return evhttp_bind_socket(server, "127.0.0.1", (unsigned short)port);
}
