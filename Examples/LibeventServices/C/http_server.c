// An HTTP server in plain libevent style: evhttp with two routes.
#include "CLibeventServices.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

struct services_http_server {
    struct evhttp *http;
    int port;
    long requests;
};

static void on_hello(struct evhttp_request *request, void *context) {
    struct services_http_server *server = context;
    server->requests += 1;
    struct evbuffer *body = evbuffer_new();
    evbuffer_add_printf(body, "hello from evhttp\n");
    evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type", "text/plain");
    evhttp_send_reply(request, HTTP_OK, "OK", body);
    evbuffer_free(body);
}

static void on_count(struct evhttp_request *request, void *context) {
    struct services_http_server *server = context;
    struct evbuffer *body = evbuffer_new();
    evbuffer_add_printf(body, "%ld\n", server->requests);
    server->requests += 1;
    evhttp_send_reply(request, HTTP_OK, "OK", body);
    evbuffer_free(body);
}

struct services_http_server *services_http_server_start(struct event_base *base, int port) {
    struct services_http_server *server = calloc(1, sizeof *server);
    if (server == NULL) return NULL;
    server->http = evhttp_new(base);
    if (server->http == NULL) {
        free(server);
        return NULL;
    }
    evhttp_set_cb(server->http, "/hello", on_hello, server);
    evhttp_set_cb(server->http, "/count", on_count, server);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(server->http, "127.0.0.1", (unsigned short)port);
    if (bound == NULL) {
        evhttp_free(server->http);
        free(server);
        return NULL;
    }
    struct sockaddr_in address;
    socklen_t length = sizeof address;
    getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&address, &length);
    server->port = ntohs(address.sin_port);
    return server;
}

int services_http_server_port(const struct services_http_server *server) { return server->port; }
long services_http_server_requests(const struct services_http_server *server) { return server->requests; }

void services_http_server_free(struct services_http_server *server) {
    evhttp_free(server->http);
    free(server);
}
