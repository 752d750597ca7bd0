/* One-pass parser for the common shapes of Postfix log lines, columnar out.
 *
 * Why: the polars parser (postfix.py) runs a dozen regex passes over every line; this does one pass in C
 * with the GIL released, for the lines whose shape it knows exactly: the two header forms, and client=,
 * message-id=, qmgr from=/size=, removed, delivery status= lines. Everything else -- other kinds, unusual
 * field orders, non-ASCII text, invalid dates, anything it is not sure of -- is returned as a *fallback*
 * line for the polars parser, which stays the single definition of every shape. For the lines it does
 * take, the output must equal the polars parser's exactly: tests/test_fastparse.py compares the two.
 *
 * scan(data, first_line_no, year, last_month, iso_fallback) -> None (give up: parse the whole chunk with
 *   polars) or (n_lines, end_year, end_last_month, n_other, n_info, kind_counts, n_rows, columns, fallback)
 * year_after(data, year, last_month) -> (year, last_month, n_lines) or None
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *p;
    Py_ssize_t len, cap;
    int oom;
} Buf;

static void bput(Buf *b, const void *src, Py_ssize_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        Py_ssize_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        char *q = realloc(b->p, (size_t)cap);
        if (!q) { b->oom = 1; return; }
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, src, (size_t)n);
    b->len += n;
}

/* ---- columns ------------------------------------------------------------------------------------- */

enum { S_HOST, S_INSTANCE, S_SERVICE, S_DAEMON, S_QID, S_KIND, S_CLIENT_HOST, S_CLIENT_IP, S_SASL_METHOD,
       S_SASL_USERNAME, S_MESSAGE_ID, S_SENDER, S_RECIPIENT, S_ORIG_TO, S_RELAY, S_RELAY_HOST, S_RELAY_IP,
       S_DSN, S_STATUS, S_REPLY, S_SMTP_STAGE, S_NEXT_QID, S_NDR_QID, S_ACTION, S_PROTO, S_HELO, NS };
static const char *S_NAMES[NS] = {"host", "instance", "service", "daemon", "qid", "kind", "client_host",
    "client_ip", "sasl_method", "sasl_username", "message_id", "sender", "recipient", "orig_to", "relay",
    "relay_host", "relay_ip", "dsn", "status", "reply", "smtp_stage", "next_qid", "ndr_qid", "action", "proto",
    "helo"};
enum { L_LINE_NO, L_TS, L_SIZE, L_UID, NL };
static const char *L_NAMES[NL] = {"line_no", "ts", "size", "uid"};
enum { I_PID, I_CLIENT_PORT, I_NRCPT, I_RELAY_PORT, I_CONN_USE, I_REPLY_CODE, NI };
static const char *I_NAMES[NI] = {"pid", "client_port", "nrcpt", "relay_port", "conn_use", "reply_code"};
enum { F_DELAY, F_A, F_B, F_C, F_D, NF };
static const char *F_NAMES[NF] = {"delay", "delay_a", "delay_b", "delay_c", "delay_d"};

typedef struct { const char *p; Py_ssize_t n; } Str; /* p == NULL: null */

typedef struct {
    Str s[NS];
    int64_t l[NL]; char hl[NL];
    int32_t i[NI]; char hi[NI];
    double f[NF]; char hf[NF];
    char status_lower[32];
} Row;

/* Every column is an Arrow array: a validity bitmap, int64 offsets + bytes (strings) or values. The
 * fixed-size parts are sized for every line of the chunk up front; the buffers are handed to Python
 * without a copy (a capsule frees them when pyarrow lets go). */
typedef struct { uint8_t *valid; Py_ssize_t nulls; int64_t *offs; Buf data; } SCol;
typedef struct { uint8_t *valid; Py_ssize_t nulls; void *vals; int width; } NCol;

typedef struct {
    SCol s[NS];
    NCol n[NL + NI + NF];
    Py_ssize_t rows, cap;
    int oom;
} Cols;

static void cols_free(Cols *c) {
    for (int k = 0; k < NS; k++) { free(c->s[k].valid); free(c->s[k].offs); free(c->s[k].data.p); }
    for (int k = 0; k < NL + NI + NF; k++) { free(c->n[k].valid); free(c->n[k].vals); }
}

static int cols_init(Cols *c, Py_ssize_t cap) {
    memset(c, 0, sizeof *c);
    c->cap = cap;
    size_t bits = (size_t)(cap + 8) / 8;
    for (int k = 0; k < NS; k++) {
        c->s[k].valid = calloc(bits, 1);
        c->s[k].offs = malloc((size_t)(cap + 1) * 8);
        if (!c->s[k].valid || !c->s[k].offs) return -1;
        c->s[k].offs[0] = 0;
    }
    for (int k = 0; k < NL + NI + NF; k++) {
        int w = (k >= NL && k < NL + NI) ? 4 : 8;
        c->n[k].width = w;
        c->n[k].valid = calloc(bits, 1);
        c->n[k].vals = calloc((size_t)cap + 1, (size_t)w);
        if (!c->n[k].valid || !c->n[k].vals) return -1;
    }
    return 0;
}

static void emit(Cols *c, const Row *r) {
    Py_ssize_t i = c->rows;
    if (i >= c->cap) { c->oom = 1; return; }
    uint8_t bit = (uint8_t)(1u << (i & 7));
    for (int k = 0; k < NS; k++) {
        SCol *col = &c->s[k];
        if (r->s[k].p) {
            bput(&col->data, r->s[k].p, r->s[k].n);
            col->valid[i >> 3] |= bit;
        } else {
            col->nulls++;
        }
        col->offs[i + 1] = col->data.len;
    }
    for (int k = 0; k < NL; k++) {
        NCol *col = &c->n[k];
        if (r->hl[k]) { ((int64_t *)col->vals)[i] = r->l[k]; col->valid[i >> 3] |= bit; } else col->nulls++;
    }
    for (int k = 0; k < NI; k++) {
        NCol *col = &c->n[NL + k];
        if (r->hi[k]) { ((int32_t *)col->vals)[i] = r->i[k]; col->valid[i >> 3] |= bit; } else col->nulls++;
    }
    for (int k = 0; k < NF; k++) {
        NCol *col = &c->n[NL + NI + k];
        if (r->hf[k]) { ((double *)col->vals)[i] = r->f[k]; col->valid[i >> 3] |= bit; } else col->nulls++;
    }
    c->rows++;
}

static int cols_oom(Cols *c) {
    if (c->oom) return 1;
    for (int k = 0; k < NS; k++) if (c->s[k].data.oom) return 1;
    return 0;
}

/* ---- small matchers ------------------------------------------------------------------------------ */

#define ISDIG(ch) ((ch) >= '0' && (ch) <= '9')

static int starts(const char *p, Py_ssize_t n, const char *lit) {
    Py_ssize_t m = (Py_ssize_t)strlen(lit);
    return n >= m && memcmp(p, lit, (size_t)m) == 0;
}

static Py_ssize_t find(const char *p, Py_ssize_t n, Py_ssize_t from, const char *lit) {
    Py_ssize_t m = (Py_ssize_t)strlen(lit);
    if (from < 0) from = 0;
    if (m == 0) return from <= n ? from : -1;
    for (Py_ssize_t i = from; i + m <= n; i++) {
        const char *q = memchr(p + i, lit[0], (size_t)(n - m - i + 1));
        if (!q) return -1;
        i = q - p;
        if (memcmp(q, lit, (size_t)m) == 0) return i;
    }
    return -1;
}

/* A run of digits at p[i..]: returns its length; value via *v when <= max digits fit. */
static Py_ssize_t digits(const char *p, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t j = i;
    while (j < n && ISDIG(p[j])) j++;
    return j - i;
}

/* Decimal digits → int64; returns 0 on overflow (more than 18 digits: caller treats as "not sure"). */
static int to_i64(const char *p, Py_ssize_t n, int64_t *out) {
    if (n <= 0 || n > 18) return 0;
    int64_t v = 0;
    for (Py_ssize_t k = 0; k < n; k++) v = v * 10 + (p[k] - '0');
    *out = v;
    return 1;
}

/* Int32 cast as polars does with strict=False: null when out of range. Returns -1 when unsure. */
static int to_i32(const char *p, Py_ssize_t n, int32_t *out) {
    int64_t v;
    if (!to_i64(p, n, &v)) return -1;
    if (v > 2147483647LL) return 0;
    *out = (int32_t)v;
    return 1;
}

/* A `[\d.]+` run with at most one dot and a digit (what polars casts to a float) → double via strtod;
 * 0 for anything else (polars would give null: left to it). */
static int to_f64(const char *p, Py_ssize_t n, double *out) {
    char tmp[64];
    int dots = 0, digs = 0;
    if (n <= 0 || n >= (Py_ssize_t)sizeof tmp) return 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (p[k] == '.') dots++;
        else if (ISDIG(p[k])) digs++;
        else return 0;
    }
    if (dots > 1 || digs == 0) return 0;
    memcpy(tmp, p, (size_t)n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL);
    return 1;
}

/* ---- header -------------------------------------------------------------------------------------- */

static const char *MONTH_NAMES[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

typedef struct {
    int trad;                 /* 1 traditional, 0 ISO */
    int month;                /* 1..12, 0 when the name is no month */
    int y, mo, d, H, M, S;
    int64_t us;
    int has_off, off_min;     /* ISO offset in minutes east */
    int off_h, off_m;
    int frac_digits;
    Py_ssize_t host, host_n, prog, prog_n, text;
    int has_pid; Py_ssize_t pid, pid_n;
} Header;

/* Regex \s on ASCII: space, \t \n \v \f \r. */
static int ascii_space(unsigned char ch) { return ch == ' ' || (ch >= 9 && ch <= 13); }

/* The tail " HOST PROG([PID])?: ?" at i. 1 match, 0 no match, -1 unsure (non-ASCII byte reached). */
static int header_tail(const unsigned char *b, Py_ssize_t n, Py_ssize_t i, Header *h) {
    if (i >= n || b[i] != ' ') return 0;
    i++;
    Py_ssize_t s = i;
    while (i < n && !ascii_space(b[i])) { if (b[i] >= 0x80) return -1; i++; }
    if (i == s || i >= n || b[i] != ' ') return 0;
    h->host = s; h->host_n = i - s;
    i++;
    s = i;
    while (i < n && !ascii_space(b[i]) && b[i] != '[' && b[i] != ':') { if (b[i] >= 0x80) return -1; i++; }
    if (i == s) return 0;
    h->prog = s; h->prog_n = i - s;
    h->has_pid = 0;
    if (i < n && b[i] == '[') {
        Py_ssize_t dn = digits((const char *)b, n, i + 1);
        if (dn >= 1 && dn <= 10 && i + 1 + dn < n && b[i + 1 + dn] == ']') {
            h->has_pid = 1; h->pid = i + 1; h->pid_n = dn;
            i = i + 2 + dn;
        } else {
            return 0; /* '[' is neither a pid nor ':' */
        }
    }
    if (i >= n || b[i] != ':') return 0;
    i++;
    if (i < n && b[i] == ' ') i++;
    h->text = i;
    return 1;
}

static int two(const unsigned char *b, Py_ssize_t i) { return (b[i] - '0') * 10 + (b[i + 1] - '0'); }

static int parse_header(const unsigned char *b, Py_ssize_t n, Header *h) {
    Py_ssize_t i = 0;
    memset(h, 0, sizeof *h);
    if (n > 0 && b[0] == '<') {
        Py_ssize_t dn = digits((const char *)b, n, 1);
        if (dn >= 1 && dn <= 3 && 1 + dn < n && b[1 + dn] == '>') {
            i = 2 + dn;
            if (i + 1 < n && b[i] == '1' && b[i + 1] == ' ') i += 2;
        } else {
            return 0;
        }
    }
    if (i + 3 <= n && b[i] >= 'A' && b[i] <= 'Z' && b[i + 1] >= 'a' && b[i + 1] <= 'z' && b[i + 2] >= 'a' &&
        b[i + 2] <= 'z') {
        h->trad = 1;
        h->month = 0;
        for (int m = 0; m < 12; m++)
            if (memcmp(b + i, MONTH_NAMES[m], 3) == 0) h->month = m + 1;
        Py_ssize_t j = i + 3;
        if (j >= n || b[j] != ' ') return 0;
        while (j < n && b[j] == ' ') j++;
        Py_ssize_t dn = digits((const char *)b, n, j);
        if (dn < 1 || dn > 2) return 0;
        h->d = dn == 1 ? b[j] - '0' : two(b, j);
        j += dn;
        if (j + 9 > n || b[j] != ' ') return 0;
        j++;
        if (!(ISDIG(b[j]) && ISDIG(b[j + 1]) && b[j + 2] == ':' && ISDIG(b[j + 3]) && ISDIG(b[j + 4]) &&
              b[j + 5] == ':' && ISDIG(b[j + 6]) && ISDIG(b[j + 7])))
            return 0;
        h->H = two(b, j); h->M = two(b, j + 3); h->S = two(b, j + 6);
        j += 8;
        if (j < n && b[j] == '.') {
            Py_ssize_t fn = digits((const char *)b, n, j + 1);
            if (fn < 1 || fn > 9) return 0;
            int64_t us = 0;
            for (int k = 0; k < 6; k++) us = us * 10 + (k < fn ? b[j + 1 + k] - '0' : 0);
            h->us = us; h->frac_digits = (int)fn;
            j += 1 + fn;
        }
        return header_tail(b, n, j, h);
    }
    /* ISO: \d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:?\d\d)? */
    if (i + 19 > n) return 0;
    const unsigned char *q = b + i;
    if (!(ISDIG(q[0]) && ISDIG(q[1]) && ISDIG(q[2]) && ISDIG(q[3]) && q[4] == '-' && ISDIG(q[5]) &&
          ISDIG(q[6]) && q[7] == '-' && ISDIG(q[8]) && ISDIG(q[9]) && (q[10] == 'T' || q[10] == ' ') &&
          ISDIG(q[11]) && ISDIG(q[12]) && q[13] == ':' && ISDIG(q[14]) && ISDIG(q[15]) && q[16] == ':' &&
          ISDIG(q[17]) && ISDIG(q[18])))
        return 0;
    h->trad = 0;
    h->y = two(q, 0) * 100 + two(q, 2); h->mo = two(q, 5); h->d = two(q, 8);
    h->H = two(q, 11); h->M = two(q, 14); h->S = two(q, 17);
    Py_ssize_t j = i + 19;
    if (j < n && b[j] == '.') {
        Py_ssize_t fn = digits((const char *)b, n, j + 1);
        if (fn >= 1 && fn <= 9) {
            int64_t us = 0;
            for (int k = 0; k < 6; k++) us = us * 10 + (k < fn ? b[j + 1 + k] - '0' : 0);
            h->us = us; h->frac_digits = (int)fn;
            j += 1 + fn;
        } else {
            return 0;
        }
    }
    if (j < n && b[j] == 'Z') {
        h->has_off = 1; h->off_min = 0; j++;
    } else if (j < n && (b[j] == '+' || b[j] == '-')) {
        int sign = b[j] == '-' ? -1 : 1;
        if (j + 5 <= n && ISDIG(b[j + 1]) && ISDIG(b[j + 2]) && b[j + 3] == ':' && j + 6 <= n &&
            ISDIG(b[j + 4]) && ISDIG(b[j + 5])) {
            h->has_off = 1; h->off_h = two(b, j + 1); h->off_m = two(b, j + 4);
            h->off_min = sign * (h->off_h * 60 + h->off_m); j += 6;
        } else if (j + 5 <= n && ISDIG(b[j + 1]) && ISDIG(b[j + 2]) && ISDIG(b[j + 3]) && ISDIG(b[j + 4])) {
            h->has_off = 1; h->off_h = two(b, j + 1); h->off_m = two(b, j + 3);
            h->off_min = sign * (h->off_h * 60 + h->off_m); j += 5;
        } else {
            return 0;
        }
    }
    return header_tail(b, n, j, h);
}

static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int month_days(int y, int m) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2) return (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28;
    return dm[m - 1];
}

/* ---- year state ---------------------------------------------------------------------------------- */

typedef struct { int year, last_month; } YState;

static void year_step(YState *st, int month) {
    if (st->last_month > 0 && st->last_month - month >= 6) st->year++;
    st->last_month = month;
}

/* The line starting at `pos` (without its newline and one trailing \r): its length; *next is where the
 * following line starts. */
static Py_ssize_t line_at(const unsigned char *d, Py_ssize_t len, Py_ssize_t pos, Py_ssize_t *next) {
    const unsigned char *nl = memchr(d + pos, '\n', (size_t)(len - pos));
    Py_ssize_t end = nl ? nl - d : len;
    *next = nl ? end + 1 : len;
    Py_ssize_t n = end - pos;
    if (n > 0 && d[pos + n - 1] == '\r') n--;
    return n;
}

/* The header of one line (as parse_header), stepping the year state on a traditional stamp with a known
 * month (postfix.py's rule); *year is then the line's year, else -1. */
static int header_and_year(const unsigned char *b, Py_ssize_t n, Header *h, YState *st, int *year) {
    int hm = parse_header(b, n, h);
    *year = -1;
    if (hm == 1 && h->trad && h->month) {
        year_step(st, h->month);
        *year = st->year;
    }
    return hm;
}

/* ---- postfix program names ----------------------------------------------------------------------- */

static const char *DAEMONS[] = {"anvil", "bounce", "cleanup", "discard", "dnsblog", "error", "flush", "lmtp",
    "local", "master", "oqmgr", "pickup", "pipe", "postdrop", "postfix-script", "postlogd", "postmap",
    "postqueue", "postscreen", "postsuper", "proxymap", "qmgr", "scache", "sendmail", "showq", "smtp", "smtpd",
    "spawn", "tlsmgr", "tlsproxy", "trivial-rewrite", "verify", "virtual", "postmulti", "postconf", "defer",
    "trace", "postalias", "postcat", "postkick", "postlock", "postlog", NULL};

static int is_daemon(const char *p, Py_ssize_t n) {
    for (int k = 0; DAEMONS[k]; k++)
        if ((Py_ssize_t)strlen(DAEMONS[k]) == n && memcmp(DAEMONS[k], p, (size_t)n) == 0) return 1;
    return 0;
}

/* ---- queue IDs and kinds ------------------------------------------------------------------------- */

static int hex_upper(char ch) { return ISDIG(ch) || (ch >= 'A' && ch <= 'F'); }
static int long_qid_char(char ch) {
    if (ISDIG(ch)) return 1;
    if (ch >= 'A' && ch <= 'Z') return !(ch == 'A' || ch == 'E' || ch == 'I' || ch == 'O' || ch == 'U');
    if (ch >= 'a' && ch <= 'z') return !(ch == 'a' || ch == 'e' || ch == 'i' || ch == 'o' || ch == 'u');
    return 0;
}

static Py_ssize_t qid_len(const char *t, Py_ssize_t n) {
    Py_ssize_t k = 0;
    while (k < n && hex_upper(t[k])) k++;
    if (k >= 5 && k <= 20 && k + 1 < n && t[k] == ':' && t[k + 1] == ' ') return k;
    k = 0;
    while (k < n && long_qid_char(t[k])) k++;
    if (k >= 10 && k <= 24 && k + 1 < n && t[k] == ':' && t[k + 1] == ' ') return k;
    return 0;
}

enum { K_INFO, K_CLIENT, K_MESSAGE_ID, K_QUEUED, K_REMOVED, K_DELIVERY, K_PICKUP, K_NOTIFICATION, K_EXPIRED,
       K_REJECT, K_HOLD, K_RELEASE, K_REQUEUE, K_CLEANUP, K_OTHER_EVENT, NK };
static const char *K_NAMES[NK] = {"info", "client", "message_id", "queued", "removed", "delivery", "pickup",
    "notification", "expired", "reject", "hold", "release", "requeue", "cleanup_action", NULL};

static int word_dash_colon(const char *r, Py_ssize_t n) { /* ^[a-z]+(?:-[a-z]+)*: */
    Py_ssize_t i = 0;
    for (;;) {
        Py_ssize_t s = i;
        while (i < n && r[i] >= 'a' && r[i] <= 'z') i++;
        if (i == s) return 0;
        if (i < n && r[i] == '-') { i++; continue; }
        break;
    }
    return i + 1 < n && r[i] == ':' && r[i + 1] == ' ';
}

static const char *REJECT_WORDS[] = {"reject", "reject_warning", "milter-reject", "discard", "hold", "filter",
                                     "redirect", "warn", "proxy-reject", NULL};

static int reject_shape(const char *r, Py_ssize_t n) {
    if (starts(r, n, "NOQUEUE: ")) { r += 9; n -= 9; }
    for (int k = 0; REJECT_WORDS[k]; k++) {
        Py_ssize_t m = (Py_ssize_t)strlen(REJECT_WORDS[k]);
        if (n >= m + 3 && memcmp(r, REJECT_WORDS[k], (size_t)m) == 0 && r[m] == ':' && r[m + 1] == ' ' &&
            r[m + 2] >= 'A' && r[m + 2] <= 'Z')
            return 1;
    }
    return 0;
}

static int notification_shape(const char *r, Py_ssize_t n) {
    Py_ssize_t i;
    if (starts(r, n, "sender ")) i = 7;
    else if (starts(r, n, "postmaster ")) i = 11;
    else return 0;
    if (starts(r + i, n - i, "non-delivery ")) i += 13;
    else if (starts(r + i, n - i, "delivery status ")) i += 16;
    else if (starts(r + i, n - i, "delay ")) i += 6;
    else return 0;
    return starts(r + i, n - i, "notification: ");
}

/* The kind of a Postfix line (postfix.py _kind_expr). K_OTHER_EVENT: an event kind this file leaves to
 * the polars parser. */
static int kind_of(int has_qid, const char *d, Py_ssize_t dn, const char *r, Py_ssize_t n) {
    if (has_qid && starts(r, n, "to=")) return find(r, n, 0, ", status=") >= 0 ? K_DELIVERY : K_OTHER_EVENT;
    if (has_qid && starts(r, n, "from=<")) {
        if (find(r, n, 0, ", status=expired, ") >= 0) return K_EXPIRED;
        if (find(r, n, 0, ", size=") >= 0) return K_QUEUED;
        return K_INFO;
    }
    if (has_qid && starts(r, n, "client=")) return K_CLIENT;
    if (has_qid && starts(r, n, "message-id=")) return K_MESSAGE_ID;
    if (has_qid && n == 7 && memcmp(r, "removed", 7) == 0) return K_REMOVED;
    if (has_qid && dn == 6 && memcmp(d, "pickup", 6) == 0 && starts(r, n, "uid=")) return K_PICKUP;
    if (has_qid && notification_shape(r, n)) return K_NOTIFICATION;
    if (has_qid && dn == 7 && memcmp(d, "cleanup", 7) == 0 && word_dash_colon(r, n)) return K_CLEANUP;
    if (reject_shape(r, n) && (has_qid || starts(r, n, "NOQUEUE: "))) return K_REJECT;
    if (has_qid && n == 14 && memcmp(r, "placed on hold", 14) == 0) return K_HOLD;
    if (has_qid && n == 18 && memcmp(r, "released from hold", 18) == 0) return K_RELEASE;
    if (has_qid && n == 8 && memcmp(r, "requeued", 8) == 0) return K_REQUEUE;
    return K_INFO;
}

/* ---- per-kind fields (each 1 = done, 0 = leave the line to polars) ------------------------------- */

static int f_client(const char *r, Py_ssize_t n, Row *row) {
    Py_ssize_t i = 7, s = 7; /* client= */
    while (i < n && r[i] != '[' && r[i] != ' ' && r[i] != ',') i++;
    if (i >= n || r[i] != '[') return 0;
    row->s[S_CLIENT_HOST] = (Str){r + s, i - s};
    s = ++i;
    while (i < n && r[i] != ']') i++;
    if (i >= n) return 0;
    row->s[S_CLIENT_IP] = (Str){r + s, i - s};
    i++;
    if (i + 1 < n && r[i] == ':' && ISDIG(r[i + 1])) {
        Py_ssize_t dn = digits(r, n, i + 1);
        int v = to_i32(r + i + 1, dn, &row->i[I_CLIENT_PORT]);
        if (v < 0) return 0;
        row->hi[I_CLIENT_PORT] = (char)v;
        i += 1 + dn;
    }
    if (starts(r + i, n - i, ", sasl_method=")) {
        i += 14; s = i;
        while (i < n && r[i] != ',') i++;
        row->s[S_SASL_METHOD] = (Str){r + s, i - s};
    }
    if (starts(r + i, n - i, ", sasl_username=")) {
        i += 16; s = i;
        while (i < n && r[i] != ',') i++;
        row->s[S_SASL_USERNAME] = (Str){r + s, i - s};
    }
    return 1;
}

static int f_queued(const char *r, Py_ssize_t n, Row *row) {
    Py_ssize_t i = 6, s = 6; /* from=< */
    while (i < n && r[i] != '>') i++;
    if (i >= n) return 0;
    row->s[S_SENDER] = (Str){r + s, i - s};
    i++;
    if (!starts(r + i, n - i, ", size=")) return 0;
    i += 7;
    Py_ssize_t dn = digits(r, n, i);
    if (dn == 0 || !to_i64(r + i, dn, &row->l[L_SIZE])) return 0;
    row->hl[L_SIZE] = 1;
    i += dn;
    if (!starts(r + i, n - i, ", nrcpt=")) return 0;
    i += 8;
    dn = digits(r, n, i);
    if (dn == 0) return 0;
    int v = to_i32(r + i, dn, &row->i[I_NRCPT]);
    if (v < 0) return 0;
    row->hi[I_NRCPT] = (char)v;
    i += dn;
    return i < n && r[i] == ' ';
}

/* `[\d.]+` field ending at `stop`; returns its length (0: none). */
static Py_ssize_t numdots(const char *r, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t j = i;
    while (j < n && (ISDIG(r[j]) || r[j] == '.')) j++;
    return j - i;
}

static int relay_parts(Str relay, Row *row) {
    /* ^([^\[]*)\[([^\]]*)\](?::(\d+))?$ */
    const char *p = relay.p;
    Py_ssize_t n = relay.n, i = 0;
    while (i < n && p[i] != '[') i++;
    if (i >= n) return 1;
    Py_ssize_t ip = i + 1, j = ip;
    while (j < n && p[j] != ']') j++;
    if (j >= n) return 1;
    Py_ssize_t k = j + 1;
    int32_t port = 0;
    int has_port = 0;
    if (k < n) {
        if (p[k] != ':') return 1;
        Py_ssize_t dn = digits(p, n, k + 1);
        if (dn == 0 || k + 1 + dn != n) return 1;
        int v = to_i32(p + k + 1, dn, &port);
        if (v < 0) return 0;
        has_port = v;
    }
    row->s[S_RELAY_HOST] = (Str){p, i};
    row->s[S_RELAY_IP] = (Str){p + ip, j - ip};
    row->i[I_RELAY_PORT] = port;
    row->hi[I_RELAY_PORT] = (char)has_port;
    return 1;
}

static int reply_code_at(const char *t, Py_ssize_t n, Py_ssize_t q) {
    return q + 3 < n && t[q] >= '2' && t[q] <= '5' && ISDIG(t[q + 1]) && ISDIG(t[q + 2]) &&
           (t[q + 3] == ' ' || t[q + 3] == '-');
}

static void reply_code_any(const char *t, Py_ssize_t tn, Row *row);

/*  while (?:sending|receiving) (?:the )?(.+?)(?:\)|$)  -- leftmost match, lazy capture. */
static int while_stage(const char *t, Py_ssize_t n, Row *row) {
    for (Py_ssize_t a = 0; (a = find(t, n, a, " while ")) >= 0; a++) {
        Py_ssize_t c;
        if (starts(t + a + 7, n - a - 7, "sending ")) c = a + 15;
        else if (starts(t + a + 7, n - a - 7, "receiving ")) c = a + 17;
        else continue;
        if (starts(t + c, n - c, "the ") && c + 4 < n) c += 4;
        if (c >= n) continue;
        Py_ssize_t j = c + 1;
        while (j < n && t[j] != ')') j++;
        row->s[S_SMTP_STAGE] = (Str){t + c, j - c};
        return 1;
    }
    return 0;
}

static int f_delivery(const char *r, Py_ssize_t n, Row *row) {
    Py_ssize_t i = 4, s; /* to=< */
    if (!starts(r, n, "to=<")) return 0;
    s = i;
    while (i < n && r[i] != '>') i++;
    if (i >= n) return 0;
    row->s[S_RECIPIENT] = (Str){r + s, i - s};
    i++;
    if (!starts(r + i, n - i, ", ")) return 0;
    i += 2;
    if (starts(r + i, n - i, "orig_to=<")) {
        i += 9; s = i;
        while (i < n && r[i] != '>') i++;
        if (i >= n) return 0;
        row->s[S_ORIG_TO] = (Str){r + s, i - s};
        i++;
        if (!starts(r + i, n - i, ", ")) return 0;
        i += 2;
    }
    if (!starts(r + i, n - i, "relay=")) return 0;
    i += 6; s = i;
    while (i < n && r[i] != ',') i++;
    row->s[S_RELAY] = (Str){r + s, i - s};
    if (!starts(r + i, n - i, ", ")) return 0;
    i += 2;
    if (starts(r + i, n - i, "conn_use=")) {
        i += 9;
        Py_ssize_t dn = digits(r, n, i);
        if (dn == 0) return 0;
        int v = to_i32(r + i, dn, &row->i[I_CONN_USE]);
        if (v < 0) return 0;
        row->hi[I_CONN_USE] = (char)v;
        i += dn;
        if (!starts(r + i, n - i, ", ")) return 0;
        i += 2;
    }
    if (!starts(r + i, n - i, "delay=")) return 0;
    i += 6;
    Py_ssize_t dn = numdots(r, n, i);
    if (!to_f64(r + i, dn, &row->f[F_DELAY])) return 0;
    row->hf[F_DELAY] = 1;
    i += dn;
    if (!starts(r + i, n - i, ", delays=")) return 0;
    i += 9;
    for (int k = 0; k < 4; k++) {
        dn = numdots(r, n, i);
        if (!to_f64(r + i, dn, &row->f[F_A + k])) return 0;
        row->hf[F_A + k] = 1;
        i += dn;
        if (k < 3) {
            if (i >= n || r[i] != '/') return 0;
            i++;
        }
    }
    if (!starts(r + i, n - i, ", ")) return 0;
    i += 2;
    if (starts(r + i, n - i, "tls=")) {
        i += 4;
        while (i < n && r[i] != ',') i++;
        if (!starts(r + i, n - i, ", ")) return 0;
        i += 2;
    }
    if (!starts(r + i, n - i, "dsn=")) return 0;
    i += 4;
    dn = numdots(r, n, i);
    if (dn == 0) return 0;
    row->s[S_DSN] = (Str){r + i, dn};
    i += dn;
    if (!starts(r + i, n - i, ", status=")) return 0;
    i += 9; s = i;
    while (i < n && ((r[i] >= 'A' && r[i] <= 'Z') || (r[i] >= 'a' && r[i] <= 'z') || r[i] == '-')) i++;
    Py_ssize_t sn = i - s;
    if (sn == 0 || sn >= (Py_ssize_t)sizeof row->status_lower) return 0;
    for (Py_ssize_t k = 0; k < sn; k++) {
        char ch = r[s + k];
        row->status_lower[k] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    row->s[S_STATUS] = (Str){row->status_lower, sn};
    /* The reply: after the FIRST ", status=" + status + " (", without one closing ')'. */
    Py_ssize_t start = find(r, n, 0, ", status=") + 9 + sn + 2;
    const char *t = r + (start < n ? start : n);
    Py_ssize_t tn = start < n ? n - start : 0;
    if (tn > 0 && t[tn - 1] == ')') tn--;
    row->s[S_REPLY] = (Str){t, tn};
    if (!relay_parts(row->s[S_RELAY], row)) return 0;
    int sent = sn == 4 && memcmp(row->status_lower, "sent", 4) == 0;
    if (!sent) {
        reply_code_any(t, tn, row);
        Py_ssize_t a = find(t, tn, 0, "(in reply to ");
        Py_ssize_t b = a >= 0 ? find(t, tn, a + 14, " command)") : -1;
        if (b >= 0) {
            row->s[S_SMTP_STAGE] = (Str){t + a + 13, b - a - 13};
        } else if (while_stage(t, tn, row)) {
            /* " while sending|receiving [the ]X" up to ')' or the end */
        } else if (starts(t, tn, "connect to ") || starts(t, tn, "Host or domain name not found")) {
            row->s[S_SMTP_STAGE] = (Str){"CONNECT", 7};
        }
    } else {
        if (reply_code_at(t, tn, 0)) {
            row->i[I_REPLY_CODE] = (t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0');
            row->hi[I_REPLY_CODE] = 1;
        }
        /* queued as ([0-9A-Za-z]{5,24}) */
        Py_ssize_t a = 0;
        while ((a = find(t, tn, a, "queued as ")) >= 0) {
            Py_ssize_t k = a + 10, e = k;
            while (e < tn && (ISDIG(t[e]) || (t[e] >= 'A' && t[e] <= 'Z') || (t[e] >= 'a' && t[e] <= 'z'))) e++;
            if (e - k >= 5) {
                row->s[S_NEXT_QID] = (Str){t + k, (e - k) > 24 ? 24 : (e - k)};
                break;
            }
            a++;
        }
    }
    return 1;
}

static int f_pickup(const char *r, Py_ssize_t n, Row *row) {
    /* ^uid=(\d+) from=<([^>]*)>$ */
    Py_ssize_t i = 4, dn = digits(r, n, 4);
    if (dn == 0 || !to_i64(r + i, dn, &row->l[L_UID])) return 0;
    row->hl[L_UID] = 1;
    i += dn;
    if (!starts(r + i, n - i, " from=<")) return 0;
    i += 7;
    Py_ssize_t s = i;
    while (i < n && r[i] != '>') i++;
    if (i != n - 1) return 0;
    row->s[S_SENDER] = (Str){r + s, i - s};
    return 1;
}

static int f_notification(const char *r, Py_ssize_t n, Row *row) {
    /* ...notification: (\S+)$ */
    Py_ssize_t i = find(r, n, 0, "notification: ");
    if (i < 0) return 0;
    i += 14;
    if (i >= n) return 0;
    for (Py_ssize_t k = i; k < n; k++)
        if (r[k] == ' ') return 0;
    row->s[S_NDR_QID] = (Str){r + i, n - i};
    return 1;
}

static int f_expired(const char *r, Py_ssize_t n, Row *row) {
    /* ^from=<(.*)>, status=expired, returned to sender$ */
    static const char tail[] = ">, status=expired, returned to sender";
    Py_ssize_t tn = (Py_ssize_t)sizeof tail - 1;
    if (n < 6 + tn || memcmp(r + n - tn, tail, (size_t)tn) != 0) return 0;
    row->s[S_SENDER] = (Str){r + 6, n - tn - 6};
    row->s[S_STATUS] = (Str){"expired", 7};
    return 1;
}

static const char *HEAD_ACTIONS[] = {"reject", "reject_warning", "milter-reject", "discard", "hold", "filter",
                                     "redirect", "warn", "defer_if_permit", "proxy-reject", NULL};

/* The first RFC 3463 code in a text: (?:^|[ -])([245]\.\d{1,3}\.\d{1,3})(?:[ ;:,]|$) */
static Str first_dsn(const char *t, Py_ssize_t n) {
    for (Py_ssize_t q = 0; q + 5 <= n; q++) {
        if (q > 0 && t[q - 1] != ' ' && t[q - 1] != '-') continue;
        if (!(t[q] == '2' || t[q] == '4' || t[q] == '5') || t[q + 1] != '.') continue;
        Py_ssize_t a = digits(t, n, q + 2);
        if (a < 1 || a > 3 || q + 2 + a >= n || t[q + 2 + a] != '.') continue;
        Py_ssize_t b = digits(t, n, q + 3 + a);
        if (b < 1 || b > 3) continue;
        Py_ssize_t e = q + 3 + a + b;
        if (e == n || t[e] == ' ' || t[e] == ';' || t[e] == ':' || t[e] == ',') return (Str){t + q, e - q};
    }
    return (Str){NULL, 0};
}

static void reply_code_any(const char *t, Py_ssize_t tn, Row *row) {
    /* (?:^|said: |: )([2-5]\d\d)[ -] */
    for (Py_ssize_t q = 0; q + 3 < tn; q++) {
        if ((q == 0 || (q >= 2 && t[q - 2] == ':' && t[q - 1] == ' ')) && reply_code_at(t, tn, q)) {
            row->i[I_REPLY_CODE] = (t[q] - '0') * 100 + (t[q + 1] - '0') * 10 + (t[q + 2] - '0');
            row->hi[I_REPLY_CODE] = 1;
            return;
        }
    }
}

/* The end-anchored tail "; from=<s>[,][ to=<r>[,]][ proto=P[,]][ helo=<h>]" starting at i, or 0. */
static int reject_tail_at(const char *b, Py_ssize_t n, Py_ssize_t i, Row *row) {
    Str sender, rcpt = {NULL, 0}, proto = {NULL, 0}, helo = {NULL, 0};
    i += 8; /* ; from=< */
    Py_ssize_t s = i;
    while (i < n && b[i] != '>') i++;
    if (i >= n) return 0;
    sender = (Str){b + s, i - s};
    i++;
    if (i < n && b[i] == ',') i++;
    if (starts(b + i, n - i, " to=<")) {
        i += 5; s = i;
        while (i < n && b[i] != '>') i++;
        if (i >= n) return 0;
        rcpt = (Str){b + s, i - s};
        i++;
        if (i < n && b[i] == ',') i++;
    }
    if (starts(b + i, n - i, " proto=")) {
        i += 7; s = i;
        while (i < n && b[i] != ' ' && b[i] != ',') i++;
        if (i == s) return 0;
        proto = (Str){b + s, i - s};
        if (i < n && b[i] == ',') i++;
    }
    if (starts(b + i, n - i, " helo=<")) {
        i += 7; s = i;
        while (i < n && b[i] != '>') i++;
        if (i >= n) return 0;
        helo = (Str){b + s, i - s};
        i++;
    }
    if (i != n) return 0;
    row->s[S_SENDER] = sender;
    row->s[S_RECIPIENT] = rcpt;
    row->s[S_PROTO] = proto;
    row->s[S_HELO] = helo;
    return 1;
}

static int f_reject_head(const char *b, Py_ssize_t n, Row *row);

static int f_reject(const char *b, Py_ssize_t n, Row *row) {
    if (starts(b, n, "NOQUEUE: ")) { b += 9; n -= 9; }
    return f_reject_head(b, n, row);
}

/* REJECT_HEAD_RE, the end-anchored tail and the reply between them (postfix.py _reject_fields). */
static int f_reject_head(const char *b, Py_ssize_t n, Row *row) {
    Py_ssize_t i = 0;
    int found = 0;
    for (int k = 0; HEAD_ACTIONS[k]; k++) {
        Py_ssize_t m = (Py_ssize_t)strlen(HEAD_ACTIONS[k]);
        if (n >= m + 2 && memcmp(b, HEAD_ACTIONS[k], (size_t)m) == 0 && b[m] == ':' && b[m + 1] == ' ') {
            row->s[S_ACTION] = (Str){b, m};
            i = m + 2;
            found = 1;
            break;
        }
    }
    if (!found) return 0;
    Py_ssize_t s = i;
    if (starts(b + i, n - i, "header ")) i += 6;
    else if (starts(b + i, n - i, "body ")) i += 4;
    else {
        if (i >= n || b[i] < 'A' || b[i] > 'Z') return 0;
        while (i < n && ((b[i] >= 'A' && b[i] <= 'Z') || b[i] == '-')) i++;
    }
    row->s[S_SMTP_STAGE] = (Str){b + s, i - s};
    if (starts(b + i, n - i, " from ")) i += 6;
    else if (starts(b + i, n - i, " to ")) i += 4;
    else return 0;
    s = i;
    while (i < n && b[i] != '[' && b[i] != ' ') i++;
    if (i >= n || b[i] != '[') return 0;
    row->s[S_CLIENT_HOST] = (Str){b + s, i - s};
    s = ++i;
    while (i < n && b[i] != ']') i++;
    if (i >= n) return 0;
    row->s[S_CLIENT_IP] = (Str){b + s, i - s};
    i++;
    if (i + 1 < n && b[i] == ':' && ISDIG(b[i + 1])) {
        Py_ssize_t dn = digits(b, n, i + 1);
        if (starts(b + i + 1 + dn, n - i - 1 - dn, ": ")) {
            int v = to_i32(b + i + 1, dn, &row->i[I_CLIENT_PORT]);
            if (v < 0) return 0;
            row->hi[I_CLIENT_PORT] = (char)v;
            i += 1 + dn;
        }
    }
    if (!starts(b + i, n - i, ": ")) return 0;
    Py_ssize_t head_end = i + 2;
    /* The leftmost "; from=<" from which the tail runs to the end of the line. */
    Py_ssize_t tail = -1, a = 0;
    while ((a = find(b, n, a, "; from=<")) >= 0) {
        if (reject_tail_at(b, n, a, row)) { tail = a; break; }
        a++;
    }
    if (tail >= 0 && tail < head_end) return 0;
    Py_ssize_t end = tail >= 0 ? tail : n;
    Str reply = {b + head_end, end - head_end};
    row->s[S_REPLY] = reply;
    reply_code_any(reply.p, reply.n, row);
    row->s[S_DSN] = first_dsn(reply.p, reply.n);
    return 1;
}

/* ---- cleanup header/body checks and milter verdicts ------------------------------------------------
 * CLEANUP_ACTION_RE, a backtracking regex with lazy groups, followed exactly:
 * ^(action): (what.*?) from (?:HOST[IP](?::\d+)?|local); from=<(sender.*?)>(?: to=<(rcpt.*?)>)?
 *   (?: proto=(\S+))?(?: helo=<(helo.*?)>)?(?:: (reply.*))?$                                          */

typedef struct { Str rcpt, proto, helo, reply; } CTail;

static int c_reply(const char *b, Py_ssize_t n, Py_ssize_t p, CTail *t) {
    if (starts(b + p, n - p, ": ")) { t->reply = (Str){b + p + 2, n - p - 2}; return 1; }
    if (p == n) { t->reply = (Str){NULL, 0}; return 1; }
    return 0;
}

static int c_helo(const char *b, Py_ssize_t n, Py_ssize_t p, CTail *t) {
    if (starts(b + p, n - p, " helo=<")) {
        for (Py_ssize_t e = p + 7; e < n; e++)
            if (b[e] == '>' && c_reply(b, n, e + 1, t)) { t->helo = (Str){b + p + 7, e - p - 7}; return 1; }
    }
    t->helo = (Str){NULL, 0};
    return c_reply(b, n, p, t);
}

static int c_proto(const char *b, Py_ssize_t n, Py_ssize_t p, CTail *t) {
    if (starts(b + p, n - p, " proto=")) {
        Py_ssize_t s = p + 7, e = s;
        while (e < n && b[e] != ' ') e++; /* \S on printable ASCII */
        for (; e > s; e--)
            if (c_helo(b, n, e, t)) { t->proto = (Str){b + s, e - s}; return 1; }
    }
    t->proto = (Str){NULL, 0};
    return c_helo(b, n, p, t);
}

static int c_to(const char *b, Py_ssize_t n, Py_ssize_t p, CTail *t) {
    if (starts(b + p, n - p, " to=<")) {
        for (Py_ssize_t e = p + 5; e < n; e++)
            if (b[e] == '>' && c_proto(b, n, e + 1, t)) { t->rcpt = (Str){b + p + 5, e - p - 5}; return 1; }
    }
    t->rcpt = (Str){NULL, 0};
    return c_proto(b, n, p, t);
}

/* After " from ": the client, "; from=<", the lazy sender and the tail. */
static int c_after_from(const char *b, Py_ssize_t n, Py_ssize_t p, Row *row) {
    Str host = {NULL, 0}, ip = {NULL, 0};
    Py_ssize_t q = -1;
    /* (?:([^\[\s]*)\[([^\]]*)\](?::\d+)?|local); from=< */
    Py_ssize_t i = p;
    while (i < n && b[i] != '[' && b[i] != ' ') i++;
    if (i < n && b[i] == '[') {
        Py_ssize_t j = i + 1;
        while (j < n && b[j] != ']') j++;
        if (j < n) {
            Py_ssize_t k = j + 1;
            if (k + 1 < n && b[k] == ':' && ISDIG(b[k + 1])) k += 1 + digits(b, n, k + 1);
            if (starts(b + k, n - k, "; from=<")) {
                host = (Str){b + p, i - p};
                ip = (Str){b + i + 1, j - i - 1};
                q = k + 8;
            }
        }
    }
    if (q < 0 && starts(b + p, n - p, "local; from=<")) q = p + 13;
    if (q < 0) return 0;
    CTail t;
    for (Py_ssize_t e = q; e < n; e++) {
        if (b[e] == '>' && c_to(b, n, e + 1, &t)) {
            row->s[S_CLIENT_HOST] = host;
            row->s[S_CLIENT_IP] = ip;
            row->s[S_SENDER] = (Str){b + q, e - q};
            row->s[S_RECIPIENT] = t.rcpt;
            row->s[S_PROTO] = t.proto;
            row->s[S_HELO] = t.helo;
            row->s[S_REPLY] = t.reply;
            return 1;
        }
    }
    return 0;
}

static int f_cleanup(const char *b, Py_ssize_t n, Row *row) {
    /* Milter verdicts log like smtpd rejects; header/body checks have their own shape. */
    Row milter;
    memset(&milter, 0, sizeof milter);
    if (f_reject_head(b, n, &milter)) {
        row->s[S_ACTION] = milter.s[S_ACTION];
        row->s[S_CLIENT_HOST] = milter.s[S_CLIENT_HOST];
        row->s[S_CLIENT_IP] = milter.s[S_CLIENT_IP];
        row->s[S_SENDER] = milter.s[S_SENDER];
        row->s[S_RECIPIENT] = milter.s[S_RECIPIENT];
        row->s[S_PROTO] = milter.s[S_PROTO];
        row->s[S_HELO] = milter.s[S_HELO];
        row->s[S_REPLY] = milter.s[S_REPLY];
        row->i[I_REPLY_CODE] = milter.i[I_REPLY_CODE];
        row->hi[I_REPLY_CODE] = milter.hi[I_REPLY_CODE];
    } else {
        /* ^[a-z]+(?:-[a-z]+)*: then the lazy "what" up to a " from " after which the rest matches */
        Py_ssize_t i = 0;
        while (i < n && ((b[i] >= 'a' && b[i] <= 'z') || b[i] == '-')) i++;
        if (!word_dash_colon(b, n)) return 0;
        Py_ssize_t act = i;
        Py_ssize_t w = act + 2, a = w;
        int ok = 0;
        while ((a = find(b, n, a, " from ")) >= 0) {
            if (c_after_from(b, n, a + 6, row)) { ok = 1; break; }
            a++;
        }
        if (!ok) return 0;
        row->s[S_ACTION] = (Str){b, act};
        if (row->s[S_REPLY].p) reply_code_any(row->s[S_REPLY].p, row->s[S_REPLY].n, row);
    }
    if (row->s[S_REPLY].p) row->s[S_DSN] = first_dsn(row->s[S_REPLY].p, row->s[S_REPLY].n);
    /* smtp_stage: ^[a-z-]+: (header|body|END-OF-MESSAGE|CONNECT|DATA)\b */
    Py_ssize_t i = 0;
    while (i < n && ((b[i] >= 'a' && b[i] <= 'z') || b[i] == '-')) i++;
    if (i > 0 && starts(b + i, n - i, ": ")) {
        static const char *stages[] = {"header", "body", "END-OF-MESSAGE", "CONNECT", "DATA", NULL};
        i += 2;
        for (int k = 0; stages[k]; k++) {
            Py_ssize_t m = (Py_ssize_t)strlen(stages[k]);
            if (starts(b + i, n - i, stages[k])) {
                char nx = i + m < n ? b[i + m] : ' ';
                int word = ISDIG(nx) || (nx >= 'A' && nx <= 'Z') || (nx >= 'a' && nx <= 'z') || nx == '_';
                if (!word) { row->s[S_SMTP_STAGE] = (Str){b + i, m}; break; }
            }
        }
    }
    return 1;
}

/* ---- the scan ------------------------------------------------------------------------------------ */

typedef struct {
    /* in */
    const unsigned char *data;
    Py_ssize_t len;
    int64_t first_line_no;
    YState st;
    int iso_fallback;          /* leave ISO-stamped lines to polars (a --tz other than UTC is in force) */
    /* out */
    Cols cols;
    Buf fallback;              /* int64 (start, end, line_no, year) per line left to polars */
    Py_ssize_t lines, other, counts[NK];
    int give_up;
} Scan;

/* Every byte in 0x20..0x7e; eight at a time (any byte >= 0x80, < 0x20 or == 0x7f). */
static int printable_ascii(const unsigned char *b, Py_ssize_t n) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w, x;
        memcpy(&w, b + i, 8);
        x = w ^ (ones * 0x7f);
        if ((w & highs) | ((w - ones * 0x20) & ~w & highs) | ((x - ones) & ~x & highs)) return 0;
    }
    for (; i < n; i++)
        if (b[i] < 0x20 || b[i] > 0x7e) return 0;
    return 1;
}

static void add_fallback(Scan *sc, Py_ssize_t start, Py_ssize_t end, int64_t line_no, int year) {
    int64_t rec[4] = {start, end, line_no, year};
    bput(&sc->fallback, rec, sizeof rec);
}

static void scan_lines(Scan *sc) {
    const unsigned char *d = sc->data;
    Py_ssize_t pos = 0, len = sc->len;
    int64_t line_no = sc->first_line_no;
    Row row;
    while (pos < len) {
        Py_ssize_t next;
        Py_ssize_t n = line_at(d, len, pos, &next);
        const unsigned char *b = d + pos;
        sc->lines++;
        Header h;
        int year;
        int hm = header_and_year(b, n, &h, &sc->st, &year);
        if (hm < 0) { sc->give_up = 1; return; }
        if (hm == 0 || !printable_ascii(b, n)) {
            add_fallback(sc, pos, pos + n, line_no, year);
            goto next_line;
        }
        {
            const char *t = (const char *)b;
            const char *prog = t + h.prog;
            Py_ssize_t pn = h.prog_n, slash1 = -1, slash2 = -1, last = -1;
            for (Py_ssize_t k = 0; k < pn; k++)
                if (prog[k] == '/') {
                    if (slash1 < 0) slash1 = k;
                    else if (slash2 < 0) slash2 = k;
                    last = k;
                }
            Str instance = {prog, slash1 < 0 ? pn : slash1};
            Str daemon = {prog + last + 1, pn - last - 1};
            int pf = starts(instance.p, instance.n, "postfix") || (slash1 >= 0 && is_daemon(daemon.p, daemon.n));
            /* Valid time? (invalid ones are quarantined by polars) */
            int64_t ts;
            if (h.trad) {
                if (!h.month || h.d < 1 || h.d > month_days(sc->st.year, h.month) || h.H > 23 || h.M > 59 ||
                    h.S > 59) {
                    add_fallback(sc, pos, pos + n, line_no, year);
                    goto next_line;
                }
                ts = ((days_from_civil(sc->st.year, h.month, h.d) * 86400 + h.H * 3600 + h.M * 60 + h.S) *
                      1000000LL) + h.us;
            } else {
                if (h.y < 1970 || h.mo < 1 || h.mo > 12 || h.d < 1 || h.d > month_days(h.y, h.mo) || h.H > 23 ||
                    h.M > 59 || h.S > 59 || h.frac_digits > 6 || sc->iso_fallback || h.off_h > 23 || h.off_m > 59) {
                    add_fallback(sc, pos, pos + n, line_no, year);
                    goto next_line;
                }
                ts = ((days_from_civil(h.y, h.mo, h.d) * 86400 + h.H * 3600 + h.M * 60 + h.S - h.off_min * 60) *
                      1000000LL) + h.us;
            }
            if (!pf) { sc->other++; goto next_line; }
            const char *text = t + h.text;
            Py_ssize_t tn = n - h.text;
            Py_ssize_t ql = qid_len(text, tn);
            const char *r = ql ? text + ql + 2 : text;
            Py_ssize_t rn = ql ? tn - ql - 2 : tn;
            int kind = kind_of(ql > 0, daemon.p, daemon.n, r, rn);
            if (kind == K_INFO) { sc->counts[K_INFO]++; goto next_line; }
            if (kind == K_OTHER_EVENT) { add_fallback(sc, pos, pos + n, line_no, year); goto next_line; }
            memset(&row, 0, sizeof row);
            int ok = 1;
            switch (kind) {
            case K_CLIENT: ok = f_client(r, rn, &row); break;
            case K_MESSAGE_ID: row.s[S_MESSAGE_ID] = (Str){r + 11, rn - 11}; break;
            case K_QUEUED: ok = f_queued(r, rn, &row); break;
            case K_REMOVED: break;
            case K_DELIVERY: ok = f_delivery(r, rn, &row); break;
            case K_PICKUP: ok = f_pickup(r, rn, &row); break;
            case K_NOTIFICATION: ok = f_notification(r, rn, &row); break;
            case K_EXPIRED: ok = f_expired(r, rn, &row); break;
            case K_REJECT: ok = f_reject(r, rn, &row); break;
            case K_CLEANUP: ok = f_cleanup(r, rn, &row); break;
            default: break;
            }
            if (!ok) { add_fallback(sc, pos, pos + n, line_no, year); goto next_line; }
            row.l[L_LINE_NO] = line_no; row.hl[L_LINE_NO] = 1;
            row.l[L_TS] = ts; row.hl[L_TS] = 1;
            row.s[S_HOST] = (Str){t + h.host, h.host_n};
            row.s[S_INSTANCE] = instance;
            row.s[S_DAEMON] = daemon;
            if (slash2 >= 0) row.s[S_SERVICE] = (Str){prog + slash1 + 1, slash2 - slash1 - 1};
            if (h.has_pid) {
                int v = to_i32(t + h.pid, h.pid_n, &row.i[I_PID]);
                if (v < 0) { add_fallback(sc, pos, pos + n, line_no, year); goto next_line; }
                row.hi[I_PID] = (char)v;
            }
            if (ql) row.s[S_QID] = (Str){text, ql};
            row.s[S_KIND] = (Str){K_NAMES[kind], (Py_ssize_t)strlen(K_NAMES[kind])};
            emit(&sc->cols, &row);
            sc->counts[kind]++;
        }
    next_line:
        pos = next;
        line_no++;
    }
}

/* ---- Python glue --------------------------------------------------------------------------------- */

static PyObject *bytes_of(Buf *b) { return PyBytes_FromStringAndSize(b->p ? b->p : "", b->len); }

typedef struct { void *p[3]; } Owned;

static void owned_free(PyObject *cap) {
    Owned *o = PyCapsule_GetPointer(cap, "fastparse.buffers");
    if (o) { free(o->p[0]); free(o->p[1]); free(o->p[2]); free(o); }
}

/* (dtype, capsule, validity address or 0, null_count, values/offsets address, size, data address, size):
 * the capsule owns the three buffers, which move out of `a`, `b`, `d`. */
static PyObject *col_tuple(const char *dtype, uint8_t **valid, Py_ssize_t nulls, void **vals, Py_ssize_t vals_n,
                           char **data, Py_ssize_t data_n) {
    Owned *o = calloc(1, sizeof *o);
    if (!o) return PyErr_NoMemory();
    PyObject *cap = PyCapsule_New(o, "fastparse.buffers", owned_free);
    if (!cap) { free(o); return NULL; }
    o->p[0] = *valid; *valid = NULL;
    o->p[1] = *vals; *vals = NULL;
    if (data) { o->p[2] = *data; *data = NULL; }
    return Py_BuildValue("(sNKnKnKn)", dtype, cap, (unsigned long long)(uintptr_t)(nulls ? o->p[0] : NULL), nulls,
                         (unsigned long long)(uintptr_t)o->p[1], vals_n, (unsigned long long)(uintptr_t)o->p[2],
                         data_n);
}

static int put(PyObject *dict, const char *key, PyObject *val) {
    if (!val) return -1;
    int rc = PyDict_SetItemString(dict, key, val);
    Py_DECREF(val);
    return rc;
}

static Py_ssize_t count_lines(const unsigned char *d, Py_ssize_t len) {
    Py_ssize_t n = 0, pos = 0;
    while (pos < len) {
        line_at(d, len, pos, &pos);
        n++;
    }
    return n;
}

static PyObject *py_scan(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    long long first;
    int year, last_month, iso_fallback;
    if (!PyArg_ParseTuple(args, "y*Liip", &view, &first, &year, &last_month, &iso_fallback)) return NULL;
    Scan *sc = calloc(1, sizeof *sc);
    if (!sc) { PyBuffer_Release(&view); return PyErr_NoMemory(); }
    sc->data = view.buf;
    sc->len = view.len;
    sc->first_line_no = first;
    sc->st.year = year;
    sc->st.last_month = last_month;
    sc->iso_fallback = iso_fallback;
    PyObject *result = NULL, *cols = NULL, *counts = NULL;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    bad = cols_init(&sc->cols, count_lines(sc->data, sc->len)) < 0;
    if (!bad) scan_lines(sc);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (bad || cols_oom(&sc->cols) || sc->fallback.oom) { PyErr_NoMemory(); goto done; }
    if (sc->give_up) { Py_INCREF(Py_None); result = Py_None; goto done; }
    cols = PyDict_New();
    counts = PyDict_New();
    if (!cols || !counts) goto done;
    Py_ssize_t rows = sc->cols.rows;
    for (int k = 0; k < NS; k++) {
        SCol *c = &sc->cols.s[k];
        void *offs = c->offs;
        c->offs = NULL;
        if (put(cols, S_NAMES[k], col_tuple("str", &c->valid, c->nulls, &offs, (rows + 1) * 8, &c->data.p,
                                             c->data.len)) < 0) {
            free(offs);
            goto done;
        }
    }
    for (int k = 0; k < NL + NI + NF; k++) {
        NCol *c = &sc->cols.n[k];
        const char *name = k < NL ? L_NAMES[k] : k < NL + NI ? I_NAMES[k - NL] : F_NAMES[k - NL - NI];
        const char *dtype = k < NL ? "i64" : k < NL + NI ? "i32" : "f64";
        if (put(cols, name, col_tuple(dtype, &c->valid, c->nulls, &c->vals, rows * c->width, NULL, 0)) < 0)
            goto done;
    }
    for (int k = 0; k < NK; k++)
        if (K_NAMES[k] && k != K_INFO && sc->counts[k] &&
            put(counts, K_NAMES[k], PyLong_FromSsize_t(sc->counts[k])) < 0)
            goto done;
    result = Py_BuildValue("(niinnOnON)", sc->lines, sc->st.year, sc->st.last_month, sc->other,
                           sc->counts[K_INFO], counts, rows, cols, bytes_of(&sc->fallback));
done:
    Py_XDECREF(cols);
    Py_XDECREF(counts);
    cols_free(&sc->cols);
    free(sc->fallback.p);
    free(sc);
    return result;
}

static PyObject *py_year_after(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    int year, last_month, unsure = 0;
    Py_ssize_t lines = 0;
    if (!PyArg_ParseTuple(args, "y*ii", &view, &year, &last_month)) return NULL;
    YState st = {year, last_month};
    const unsigned char *d = view.buf;
    Py_ssize_t pos = 0, len = view.len;
    Py_BEGIN_ALLOW_THREADS
    while (pos < len) {
        Py_ssize_t next;
        Py_ssize_t n = line_at(d, len, pos, &next);
        Header h;
        int line_year;
        if (header_and_year(d + pos, n, &h, &st, &line_year) < 0) { unsure = 1; break; }
        lines++;
        pos = next;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (unsure) Py_RETURN_NONE;
    return Py_BuildValue("(iin)", st.year, st.last_month, lines);
}

static PyMethodDef methods[] = {
    {"scan", py_scan, METH_VARARGS, "Parse the common shapes of a chunk of Postfix log lines (see module doc)."},
    {"year_after", py_year_after, METH_VARARGS, "The year state after a chunk, from its syslog headers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastparse",
                                    "One-pass C parser for common Postfix log line shapes.", -1, methods};

PyMODINIT_FUNC PyInit__fastparse(void) { return PyModule_Create(&module); }
