/*
 * wsload: holds many WebSocket connections open as waiting tabs do, at a few kilobytes each, so the figure
 * measured is the server's and not a Node client's.
 *
 *   wsload HOST PORT PATH TOKENS_FILE FIRST COUNT SOURCE_ADDRESS MAX_PENDING SECONDS
 *
 * Opens COUNT connections from SOURCE_ADDRESS (a 127.0.0.x of its own, so each process has the whole
 * ephemeral port range), the i-th with `Authorization: Bearer <line FIRST+i of TOKENS_FILE>`, at most
 * MAX_PENDING handshakes at a time (the server's accept backlog is small). Open sockets answer every ping
 * with a pong (as browsers do) and count the text messages they get; a closed one is not reopened.
 * Prints `{"open":…}` progress lines each second and one final JSON line after SECONDS (or on SIGTERM), then exits.
 * Single-threaded epoll, one process per ~16,000 connections (the file-descriptor limit).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_BUF 2048

enum { CONNECTING, HANDSHAKE, OPEN, CLOSED };

typedef struct {
  int fd;
  int state;
  uint32_t have;
  char in[IN_BUF];
  /* bytes of the current frame's payload still to skip (a frame larger than IN_BUF) */
  uint64_t skip;
} conn_t;

static conn_t *conns;
static char **tokens;
static long open_now, opened, failed, refused_http, messages, pings, closes[5000], other_closes, pending;

static volatile sig_atomic_t stop;
static void on_term(int sig) {
  (void)sig;
  stop = 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void finish(conn_t *c, int epfd) {
  if (c->state == CLOSED) return;
  if (c->state == OPEN) open_now--;
  else pending--;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->state = CLOSED;
}

static int send_all(int fd, const void *data, size_t len) {
  /* Handshakes and pongs are tiny: a full send buffer here means the peer is gone. */
  return send(fd, data, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Parses whole frames at the start of c->in; returns -1 when the connection is to be dropped. */
static int frames(conn_t *c, int epfd) {
  uint32_t at = 0;
  while (c->have - at >= 2) {
    unsigned char *p = (unsigned char *)c->in + at;
    int opcode = p[0] & 0x0f;
    uint64_t len = p[1] & 0x7f;
    uint32_t head = 2;
    if (len == 126) {
      if (c->have - at < 4) break;
      len = ((uint64_t)p[2] << 8) | p[3];
      head = 4;
    } else if (len == 127) {
      if (c->have - at < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
      head = 10;
    }
    if (opcode == 1 || opcode == 0) {
      if (opcode == 1) messages++;
      uint64_t body = c->have - at - head;
      if (body < len) {
        c->skip = len - body;
        at = c->have;
        break;
      }
      at += head + len;
      continue;
    }
    if (c->have - at < head + len) break;
    if (opcode == 9) {
      unsigned char pong[2 + 4 + 125];
      pong[0] = 0x8a;
      pong[1] = 0x80 | (unsigned char)len;
      memset(pong + 2, 0, 4); /* mask key 0: the payload goes as it is */
      memcpy(pong + 6, p + head, len);
      pings++;
      if (send_all(c->fd, pong, 6 + len) < 0) return -1;
    } else if (opcode == 8) {
      int code = len >= 2 ? (p[head] << 8) | p[head + 1] : 1005;
      if (code >= 0 && code < 5000) closes[code]++;
      else other_closes++;
      finish(c, epfd);
      return 0;
    }
    at += head + len;
  }
  memmove(c->in, c->in + at, c->have - at);
  c->have -= at;
  return 0;
}

static int on_readable(conn_t *c, int epfd) {
  for (;;) {
    ssize_t n = recv(c->fd, c->in + c->have, IN_BUF - c->have, 0);
    if (n == 0) return -1;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    if (c->skip > 0) {
      uint64_t drop = (uint64_t)n < c->skip ? (uint64_t)n : c->skip;
      c->skip -= drop;
      memmove(c->in + c->have, c->in + c->have + drop, n - drop);
      n -= drop;
    }
    c->have += n;
    if (c->state == HANDSHAKE) {
      char *end = memmem(c->in, c->have, "\r\n\r\n", 4);
      if (!end) {
        if (c->have == IN_BUF) return -1;
        continue;
      }
      if (strncmp(c->in, "HTTP/1.1 101", 12) != 0) {
        refused_http++;
        return -1;
      }
      uint32_t rest = c->have - (uint32_t)(end + 4 - c->in);
      memmove(c->in, end + 4, rest);
      c->have = rest;
      c->state = OPEN;
      pending--;
      open_now++;
      opened++;
    }
    if (c->state == OPEN && frames(c, epfd) < 0) return -1;
    if (c->state == CLOSED) return 0;
  }
}

int main(int argc, char **argv) {
  if (argc != 10) {
    fprintf(stderr, "usage: wsload HOST PORT PATH TOKENS_FILE FIRST COUNT SOURCE_ADDRESS MAX_PENDING SECONDS\n");
    return 2;
  }
  const char *host = argv[1], *path = argv[3];
  int port = atoi(argv[2]);
  long first = atol(argv[5]), count = atol(argv[6]);
  const char *source = argv[7];
  long max_pending = atol(argv[8]);
  double seconds = atof(argv[9]);

  tokens = calloc(count, sizeof(char *));
  FILE *tf = fopen(argv[4], "r");
  if (!tf) {
    perror("tokens");
    return 1;
  }
  char line[4096];
  for (long i = 0, got = 0; got < count && fgets(line, sizeof line, tf); i++) {
    if (i < first) continue;
    line[strcspn(line, "\r\n")] = 0;
    tokens[got++] = strdup(line);
  }
  fclose(tf);
  for (long i = 0; i < count; i++) {
    if (!tokens[i]) {
      fprintf(stderr, "not enough tokens\n");
      return 1;
    }
  }

  conns = calloc(count, sizeof(conn_t));
  int epfd = epoll_create1(0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, host, &to.sin_addr);
  struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = 0};
  inet_pton(AF_INET, source, &from.sin_addr);

  struct epoll_event events[1024];
  double start = now_s(), last_print = start;
  long next = 0;
  signal(SIGTERM, on_term);
  while (!stop && now_s() - start < seconds) {
    while (next < count && pending < max_pending) {
      conn_t *c = &conns[next];
      c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      c->state = CONNECTING;
      pending++;
      struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u64 = (uint64_t)next};
      next++;
      if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&from, sizeof from) < 0 ||
          (connect(c->fd, (struct sockaddr *)&to, sizeof to) < 0 && errno != EINPROGRESS) ||
          epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        failed++;
        if (c->fd >= 0) close(c->fd);
        c->state = CLOSED;
        pending--;
      }
    }
    int n = epoll_wait(epfd, events, 1024, 100);
    for (int i = 0; i < n; i++) {
      conn_t *c = &conns[events[i].data.u64];
      if (c->state == CLOSED) continue;
      if (c->state == CONNECTING && (events[i].events & EPOLLOUT)) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        char req[4096];
        int m = snprintf(req, sizeof req,
                         "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                         "Authorization: Bearer %s\r\n\r\n",
                         path, host, port, tokens[events[i].data.u64]);
        if (err != 0 || send_all(c->fd, req, m) < 0) {
          failed++;
          finish(c, epfd);
          continue;
        }
        c->state = HANDSHAKE;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = events[i].data.u64};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
        int was = c->state;
        if (on_readable(c, epfd) < 0) {
          if (was == HANDSHAKE && c->state == HANDSHAKE) failed++;
          else if (c->state == OPEN) other_closes++;
          finish(c, epfd);
        }
      }
    }
    if (now_s() - last_print >= 1) {
      last_print = now_s();
      printf("{\"open\":%ld,\"failed\":%ld,\"messages\":%ld,\"pings\":%ld}\n", open_now, failed + refused_http, messages, pings);
      fflush(stdout);
    }
  }
  printf("{\"final\":true,\"open\":%ld,\"opened\":%ld,\"failed\":%ld,\"refusedHttp\":%ld,\"messages\":%ld,\"pings\":%ld,\"dropped\":%ld,\"closeCodes\":{",
         open_now, opened, failed, refused_http, messages, pings, other_closes);
  int comma = 0;
  for (int code = 0; code < 5000; code++) {
    if (closes[code]) {
      printf("%s\"%d\":%ld", comma ? "," : "", code, closes[code]);
      comma = 1;
    }
  }
  printf("}}\n");
  fflush(stdout);
  return 0;
}
