// A line-protocol server in plain libevent style: an evconnlistener and a bufferevent per
// connection.
#include "CLibeventServices.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

struct line_connection {
    struct services_line_server *server;
    struct bufferevent *events;
    long lines;
    struct line_connection *next, *previous;
};

struct services_line_server {
    struct evconnlistener *listener;
    struct line_connection *connections;
    int port;
    int open;
    long lines;
};

static void connection_close(struct line_connection *connection) {
    struct services_line_server *server = connection->server;
    if (connection->previous) connection->previous->next = connection->next;
    else server->connections = connection->next;
    if (connection->next) connection->next->previous = connection->previous;
    server->open -= 1;
    bufferevent_free(connection->events);
    free(connection);
}

static void on_read(struct bufferevent *events, void *context) {
    struct line_connection *connection = context;
    struct evbuffer *input = bufferevent_get_input(events);
    struct evbuffer *output = bufferevent_get_output(events);
    size_t length;
    char *line;
    while ((line = evbuffer_readln(input, &length, EVBUFFER_EOL_LF)) != NULL) {
        connection->lines += 1;
        connection->server->lines += 1;
        evbuffer_add_printf(output, "%ld %s\n", connection->lines, line);
        free(line);
    }
}

static void on_event(struct bufferevent *events, short what, void *context) {
    (void)events;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) connection_close(context);
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *address,
                      int length, void *context) {
    (void)address;
    (void)length;
    struct services_line_server *server = context;
    struct event_base *base = evconnlistener_get_base(listener);
    struct line_connection *connection = calloc(1, sizeof *connection);
    struct bufferevent *events = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (connection == NULL || events == NULL) {
        if (events) bufferevent_free(events);
        else evutil_closesocket(fd);
        free(connection);
        return;
    }
    connection->server = server;
    connection->events = events;
    connection->next = server->connections;
    if (server->connections) server->connections->previous = connection;
    server->connections = connection;
    server->open += 1;
    bufferevent_setcb(events, on_read, NULL, on_event, connection);
    bufferevent_enable(events, EV_READ | EV_WRITE);
}

struct services_line_server *services_line_server_start(struct event_base *base, int port) {
    struct services_line_server *server = calloc(1, sizeof *server);
    if (server == NULL) return NULL;
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons((unsigned short)port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    server->listener = evconnlistener_new_bind(base, on_accept, server,
                                               LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
                                               (struct sockaddr *)&address, sizeof address);
    if (server->listener == NULL) {
        free(server);
        return NULL;
    }
    struct sockaddr_in bound;
    socklen_t bound_length = sizeof bound;
    getsockname(evconnlistener_get_fd(server->listener), (struct sockaddr *)&bound, &bound_length);
    server->port = ntohs(bound.sin_port);
    return server;
}

int services_line_server_port(const struct services_line_server *server) { return server->port; }
long services_line_server_lines(const struct services_line_server *server) { return server->lines; }
int services_line_server_connections(const struct services_line_server *server) { return server->open; }

void services_line_server_free(struct services_line_server *server) {
    while (server->connections) connection_close(server->connections);
    evconnlistener_free(server->listener);
    free(server);
}
