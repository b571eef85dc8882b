/* log.c: error log to stderr and the access log.  See log.h. */
#include "log.h"
#include "errors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

int hb_log_level = HB_LOG_INFO;
static FILE *access_fp;
static int access_own, access_json;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int hb_log_open(int level, const char *access, int json) {
  hb_log_close();
  hb_log_level = level;
  access_json = json;
  if (!access || strcmp(access, "stderr") == 0) {
    access_fp = stderr;
  } else if (strcmp(access, "off") == 0) {
    access_fp = NULL;
  } else {
    access_fp = fopen(access, "a");
    if (!access_fp) return HB_ERR_IO;
    setvbuf(access_fp, NULL, _IOLBF, 0);
    access_own = 1;
  }
  return 0;
}

void hb_log_close(void) {
  if (access_own && access_fp) fclose(access_fp);
  access_fp = NULL;
  access_own = 0;
}

static void timestamp(char *buf, size_t len) {
  struct timeval tv;
  struct tm tm;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

void hb_log_write(int level, uint64_t conn, int64_t stream, const char *fmt, ...) {
  char ts[40], msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  timestamp(ts, sizeof(ts));
  if (level < 0 || level > HB_LOG_DEBUG) level = HB_LOG_ERROR;
  if (stream >= 0)
    fprintf(stderr, "%s %s conn=%llu stream=%lld %s\n", ts, level_names[level],
            (unsigned long long)conn, (long long)stream, msg);
  else
    fprintf(stderr, "%s %s conn=%llu %s\n", ts, level_names[level], (unsigned long long)conn, msg);
}

/* JSON string escaping of untrusted values (paths, authorities). */
static void json_str(FILE *f, const char *s) {
  if (!s) {
    fputs("null", f);
    return;
  }
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

/* Text fields: control characters and spaces become %XX so a line stays one record. */
static void text_str(FILE *f, const char *s) {
  if (!s || !*s) {
    fputc('-', f);
    return;
  }
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p <= 0x20 || *p >= 0x7f || *p == '"') fprintf(f, "%%%02X", *p);
    else fputc(*p, f);
  }
}

void hb_access_log(const hb_access_rec *r) {
  if (!access_fp) return;
  char ts[40];
  timestamp(ts, sizeof(ts));
  FILE *f = access_fp;
  flockfile(f);
  if (access_json) {
    fprintf(f, "{\"time\":\"%s\",\"conn\":%llu,\"stream\":%lld,\"client\":", ts,
            (unsigned long long)r->conn, (long long)r->stream);
    json_str(f, r->client);
    fputs(",\"listener\":", f);
    json_str(f, r->listener);
    fputs(",\"route\":", f);
    json_str(f, r->route);
    fputs(",\"proto_in\":", f);
    json_str(f, r->proto_in);
    fputs(",\"proto_out\":", f);
    json_str(f, r->proto_out);
    fputs(",\"upstream\":", f);
    json_str(f, r->upstream);
    fputs(",\"method\":", f);
    json_str(f, r->method);
    fputs(",\"authority\":", f);
    json_str(f, r->authority);
    fputs(",\"path\":", f);
    json_str(f, r->path);
    if (r->protocol) {
      fputs(",\"protocol\":", f);
      json_str(f, r->protocol);
    }
    fprintf(f, ",\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_ms\":%.3f", r->status,
            (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out, r->duration_ms);
    if (r->error) {
      fputs(",\"error\":", f);
      json_str(f, r->error);
    }
    fputs("}\n", f);
  } else {
    fprintf(f, "%s access conn=%llu stream=%lld client=", ts, (unsigned long long)r->conn,
            (long long)r->stream);
    text_str(f, r->client);
    fputs(" listener=", f);
    text_str(f, r->listener);
    fputs(" route=", f);
    text_str(f, r->route);
    fputs(" proto=", f);
    text_str(f, r->proto_in);
    fputs("->", f);
    text_str(f, r->proto_out);
    fputs(" upstream=", f);
    text_str(f, r->upstream);
    fputs(" \"", f);
    text_str(f, r->method);
    fputc(' ', f);
    text_str(f, r->authority);
    text_str(f, r->path);
    fprintf(f, "\" status=%d in=%llu out=%llu ms=%.3f", r->status, (unsigned long long)r->bytes_in,
            (unsigned long long)r->bytes_out, r->duration_ms);
    if (r->protocol) {
      fputs(" tunnel=", f);
      text_str(f, r->protocol);
    }
    if (r->error) {
      fputs(" error=\"", f);
      fputs(r->error, f);
      fputc('"', f);
    }
    fputc('\n', f);
  }
  funlockfile(f);
  fflush(f);
}
