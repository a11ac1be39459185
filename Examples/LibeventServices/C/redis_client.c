// A Redis client in plain libevent style: hiredis' async API attached to a base with its own
// libevent adapter.
#include "CLibeventServices.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

struct services_redis {
    redisAsyncContext *context;
    services_redis_status_fn on_status;
    void *status_context;
    int ended;
};

struct pending_reply {
    services_redis_reply_fn on_reply;
    void *context;
};

static void finish(struct services_redis *redis, const char *error) {
    if (redis->ended) return;
    redis->ended = 1;
    redis->on_status(0, error, redis->status_context);
    // hiredis frees its context right after this callback returns.
    free(redis);
}

static void on_connect(const redisAsyncContext *context, int status) {
    struct services_redis *redis = context->data;
    if (status == REDIS_OK) redis->on_status(1, NULL, redis->status_context);
    else finish(redis, context->errstr[0] ? context->errstr : "connection failed");
}

static void on_disconnect(const redisAsyncContext *context, int status) {
    struct services_redis *redis = context->data;
    finish(redis, status == REDIS_OK ? NULL : (context->errstr[0] ? context->errstr : "connection lost"));
}

static void on_reply(redisAsyncContext *context, void *raw, void *privdata) {
    struct pending_reply *pending = privdata;
    struct services_redis_reply reply = {0};
    redisReply *r = raw;
    if (r == NULL) {
        reply.kind = 'x';
        reply.text = context->errstr[0] ? context->errstr : "the connection closed before the reply";
        reply.length = strlen(reply.text);
    } else {
        switch (r->type) {
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
            reply.kind = 's';
            reply.text = r->str;
            reply.length = r->len;
            break;
        case REDIS_REPLY_INTEGER:
            reply.kind = 'i';
            reply.integer = r->integer;
            break;
        case REDIS_REPLY_ARRAY:
            reply.kind = 'a';
            reply.integer = (long long)r->elements;
            break;
        case REDIS_REPLY_ERROR:
            reply.kind = 'e';
            reply.text = r->str;
            reply.length = r->len;
            break;
        default:
            reply.kind = 'n';
        }
    }
    pending->on_reply(&reply, pending->context);
    free(pending);
}

struct services_redis *services_redis_connect(struct event_base *base, const char *host, int port,
                                              services_redis_status_fn on_status, void *status_context) {
    struct services_redis *redis = calloc(1, sizeof *redis);
    if (redis == NULL) return NULL;
    redisAsyncContext *context = redisAsyncConnect(host, port);
    if (context == NULL || context->err) {
        if (context) redisAsyncFree(context);
        free(redis);
        return NULL;
    }
    redis->context = context;
    redis->on_status = on_status;
    redis->status_context = status_context;
    context->data = redis;
    redisLibeventAttach(context, base);
    redisAsyncSetConnectCallback(context, on_connect);
    redisAsyncSetDisconnectCallback(context, on_disconnect);
    return redis;
}

int services_redis_command(struct services_redis *redis, int argc, const char **argv, const size_t *lengths,
                           services_redis_reply_fn reply_fn, void *context) {
    if (redis->ended) return -1;
    struct pending_reply *pending = malloc(sizeof *pending);
    if (pending == NULL) return -1;
    pending->on_reply = reply_fn;
    pending->context = context;
    if (redisAsyncCommandArgv(redis->context, on_reply, pending, argc, argv, lengths) != REDIS_OK) {
        free(pending);
        return -1;
    }
    return 0;
}

void services_redis_disconnect(struct services_redis *redis) {
    if (!redis->ended) redisAsyncDisconnect(redis->context);
}
