/*
 * openload: an open-model HTTP/1.1 load generator with coordinated omission corrected.
 *
 * A crowd does not wait for the previous buyer's answer before arriving: request i is due at
 * start + i / rate whatever the server does. Each request is sent on an idle keep-alive
 * connection as soon as it is due; when none is idle (the server is behind), it waits in a backlog
 * and its latency still counts from when it was due, not from when it could be sent. That is the
 * latency a person arriving at that moment sees (wrk2's model; closed-loop drivers such as wrk or
 * autocannon measure from the send and hide the queue).
 *
 *   openload HOST PORT PATH TOKENS_FILE RATE SECONDS CONNECTIONS [RUN_ID]
 *
 * Every request is `POST PATH` with `Authorization: Bearer <token>` (tokens round-robin from the
 * file, one per line) and a JSON body with a fresh requestId. One JSON line on stdout at the end.
 * Single-threaded epoll; the caller pins it to a core.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_TOKENS 200000
#define BUF 16384
/* Log-linear histogram of microseconds: 64 exponents x 256 linear sub-buckets (< 0.4 % error). */
#define SUB 256
#define EXPS 40

typedef struct {
  int fd;
  int connected;
  int busy;
  double due;      /* when the request in flight was due (seconds, monotonic) */
  char in[BUF];
  size_t have;
  char out[4096];
  size_t out_len, out_sent;
} conn_t;

static uint64_t hist[EXPS][SUB];
static uint64_t recorded;
static double max_us;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void record(double us) {
  if (us < 1) us = 1;
  if (us > max_us) max_us = us;
  uint64_t v = (uint64_t)us;
  int e = 0;
  while ((v >> e) >= SUB && e < EXPS - 1) e++;
  uint64_t s = v >> e;
  if (s >= SUB) s = SUB - 1;
  hist[e][s]++;
  recorded++;
}

static double percentile(double p) {
  if (recorded == 0) return 0;
  uint64_t want = (uint64_t)(p / 100.0 * recorded);
  if (want >= recorded) want = recorded - 1;
  uint64_t seen = 0;
  for (int e = 0; e < EXPS; e++)
    for (int s = 0; s < SUB; s++) {
      seen += hist[e][s];
      if (seen > want) return (double)(((uint64_t)s << e) + (((uint64_t)1 << e) - 1) / 2.0);
    }
  return max_us;
}

static char *tokens[MAX_TOKENS];
static int ntokens;
static const char *host, *path, *run_id;
static int port;
static uint64_t seq;
static struct sockaddr_in addr;
static int epfd;

static int open_conn(conn_t *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
  c->connected = 0;
  c->busy = 0;
  c->have = 0;
  c->out_len = c->out_sent = 0;
  return 0;
}

static void close_conn(conn_t *c) {
  if (c->fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  c->fd = -1;
  c->busy = 0;
}

static void flush_out(conn_t *c) {
  while (c->out_sent < c->out_len) {
    ssize_t n = write(c->fd, c->out + c->out_sent, c->out_len - c->out_sent);
    if (n <= 0) return; /* EAGAIN: EPOLLOUT resumes it; an error shows up on read */
    c->out_sent += (size_t)n;
  }
}

static void send_request(conn_t *c, double due) {
  uint64_t i = seq++;
  const char *token = tokens[i % (uint64_t)ntokens];
  char body[160];
  int blen = snprintf(body, sizeof body, "{\"requestId\":\"%s-%llu\",\"quantity\":1}", run_id, (unsigned long long)i);
  c->out_len = (size_t)snprintf(c->out, sizeof c->out,
                                "POST %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                                path, host, port, token, blen, body);
  c->out_sent = 0;
  c->busy = 1;
  c->due = due;
  c->have = 0;
  flush_out(c);
}

static uint64_t statuses[600];
static uint64_t completed, errors;

/* Returns 1 when a whole response was consumed (the connection is idle again). */
static int read_response(conn_t *c) {
  for (;;) {
    ssize_t n = read(c->fd, c->in + c->have, BUF - 1 - c->have);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return -1;
    if (n < 0) break;
    c->have += (size_t)n;
    if (c->have >= BUF - 1) return -1;
  }
  c->in[c->have] = 0;
  char *end = strstr(c->in, "\r\n\r\n");
  if (!end) return 0;
  int status = atoi(c->in + 9);
  long length = 0;
  char *cl = strcasestr(c->in, "\r\ncontent-length:");
  if (cl && cl < end) length = strtol(cl + 17, NULL, 10);
  size_t total = (size_t)(end + 4 - c->in) + (size_t)length;
  if (c->have < total) return 0;
  if (status > 0 && status < 600) statuses[status]++;
  completed++;
  record((now_s() - c->due) * 1e6);
  /* Pipelining is never used, so nothing follows the response. */
  c->have = 0;
  c->busy = 0;
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: openload HOST PORT PATH TOKENS_FILE RATE SECONDS CONNECTIONS [RUN_ID]\n");
    return 2;
  }
  host = argv[1];
  port = atoi(argv[2]);
  path = argv[3];
  double rate = atof(argv[5]);
  double seconds = atof(argv[6]);
  int nconn = atoi(argv[7]);
  run_id = argc > 8 ? argv[8] : "ol";
  if (port <= 0 || rate <= 0 || seconds <= 0 || nconn <= 0) {
    fprintf(stderr, "openload: PORT, RATE, SECONDS and CONNECTIONS must be positive\n");
    return 2;
  }
  FILE *f = fopen(argv[4], "r");
  if (!f) {
    perror("openload: tokens file");
    return 2;
  }
  char line[4096];
  while (ntokens < MAX_TOKENS && fgets(line, sizeof line, f)) {
    size_t l = strcspn(line, "\r\n");
    if (l == 0) continue;
    line[l] = 0;
    tokens[ntokens++] = strdup(line);
  }
  fclose(f);
  if (ntokens == 0) {
    fprintf(stderr, "openload: no tokens\n");
    return 2;
  }
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "openload: HOST must be an IPv4 address\n");
    return 2;
  }
  epfd = epoll_create1(0);
  conn_t *conns = calloc((size_t)nconn, sizeof *conns);
  for (int i = 0; i < nconn; i++) {
    conns[i].fd = -1;
    open_conn(&conns[i]);
  }

  /* The crowd's connections are open before the first arrival (at most 2 s): a connection storm
     at the start would be the driver's latency, not the server's. */
  struct epoll_event events[1024];
  double open_by = now_s() + 2.0;
  for (int ready = 0; ready < nconn && now_s() < open_by;) {
    int n = epoll_wait(epfd, events, 1024, 10);
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if ((events[i].events & EPOLLOUT) && !c->connected) {
        c->connected = 1;
        ready++;
      }
    }
  }
  uint64_t total = (uint64_t)(rate * seconds);
  uint64_t scheduled = 0; /* requests that are due and sent, or due and waiting */
  uint64_t max_backlog = 0;
  double start = now_s();
  double deadline = start + seconds + 30.0; /* drain bound after the last arrival */
  int idle_hint = 0;

  while (now_s() < deadline && (scheduled < total || completed + errors < scheduled)) {
    double t = now_s();
    /* Send every due request that finds an idle, connected connection. */
    while (scheduled < total) {
      double due = start + (double)scheduled / rate;
      if (due > t) break;
      conn_t *c = NULL;
      for (int k = 0; k < nconn; k++) {
        conn_t *x = &conns[(idle_hint + k) % nconn];
        if (x->fd >= 0 && !x->busy) {
          c = x;
          idle_hint = (int)(x - conns) + 1;
          break;
        }
      }
      if (!c) break;
      send_request(c, due);
      scheduled++;
    }
    uint64_t due_now = t < start ? 0 : (uint64_t)((t - start) * rate) + 1;
    if (due_now > total) due_now = total;
    if (due_now > scheduled && due_now - scheduled > max_backlog) max_backlog = due_now - scheduled;

    double next_due = scheduled < total ? start + (double)scheduled / rate : t + 0.01;
    int wait_ms = (int)((next_due - t) * 1000);
    if (wait_ms < 0) wait_ms = 0;
    if (wait_ms > 10) wait_ms = 10;
    int n = epoll_wait(epfd, events, 1024, wait_ms);
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (c->fd < 0) continue;
      if (events[i].events & EPOLLOUT) flush_out(c);
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (!c->busy && !(events[i].events & (EPOLLHUP | EPOLLERR))) continue;
        int r = c->busy ? read_response(c) : -1;
        if (r < 0) {
          if (c->busy) errors++;
          close_conn(c);
          open_conn(c);
        }
      }
    }
  }
  double elapsed = now_s() - start;
  printf("{\"scheduled\":%llu,\"completed\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"rate\":%.1f,\"maxBacklog\":%llu,"
         "\"p50Ms\":%.3f,\"p90Ms\":%.3f,\"p99Ms\":%.3f,\"p999Ms\":%.3f,\"maxMs\":%.3f,\"statuses\":{",
         (unsigned long long)scheduled, (unsigned long long)completed, (unsigned long long)errors, elapsed, rate,
         (unsigned long long)max_backlog, percentile(50) / 1000, percentile(90) / 1000, percentile(99) / 1000, percentile(99.9) / 1000,
         max_us / 1000);
  int first = 1;
  for (int s = 0; s < 600; s++)
    if (statuses[s]) {
      printf("%s\"%d\":%llu", first ? "" : ",", s, (unsigned long long)statuses[s]);
      first = 0;
    }
  printf("}}\n");
  return 0;
}
