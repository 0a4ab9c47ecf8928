/*
 * OpenSSL peer benchmark for `waxseal speed`: the same operations, in-process, through
 * libcrypto's CMS_sign / CMS_verify, on the keys, certificates and payload that
 * `waxseal speed --export DIR` wrote. Built and run only by bench/compare.sh; it is not
 * part of waxseal and nothing in waxseal links libcrypto.
 *
 * Like for like with waxseal's envelopes: the same signed attributes (content-type,
 * signing-time, message-digest: CMS_NOSMIMECAP leaves out the SMIMECapabilities attribute
 * OpenSSL adds by default), the same digest (SHA-384 for P-384, where OpenSSL would pick
 * SHA-256), and the same certificates: "embedded" carries the signer's certificate and the
 * signing CA, "omitted" carries none (CMS_NOCERTS alone leaves out only the signer's
 * certificate; the chain must not be passed either). Both envelope sizes are printed so
 * the comparison can be checked against waxseal's.
 *
 * usage: cms_peer DIR SECONDS      (DIR: root.pem ca.pem leaf.pem leaf.key payload.bin)
 * prints (operations per second, sizes in bytes):
 *   {"sign_embedded": N, "sign_omitted": N, "verify_embedded": N, "verify_omitted": N,
 *    "envelope_bytes_embedded": N, "envelope_bytes_omitted": N}
 * Any failed operation aborts the run (exit 1): nothing failed is ever timed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "cms_peer: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static char *path(const char *dir, const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static X509 *load_cert(const char *file) {
    FILE *f = fopen(file, "r");
    if (!f) die(file);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x) die(file);
    return x;
}

static unsigned char *load_file(const char *file, long *len) {
    FILE *f = fopen(file, "rb");
    if (!f) die(file);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(*len);
    if (fread(buf, 1, *len, f) != (size_t)*len) die(file);
    fclose(f);
    return buf;
}

/* Signs the payload with `md`; `chain` goes into the envelope with the signer's certificate
   unless `omit` (then no certificate at all). Returns the DER envelope. */
static unsigned char *sign_once(X509 *leaf, EVP_PKEY *key, const EVP_MD *md, STACK_OF(X509) *chain,
                                const unsigned char *payload, long plen, int omit, int *der_len) {
    int flags = CMS_BINARY | CMS_NOSMIMECAP | CMS_PARTIAL | (omit ? CMS_NOCERTS : 0);
    BIO *in = BIO_new_mem_buf(payload, (int)plen);
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, omit ? NULL : chain, NULL, flags);
    if (!cms) die("CMS_sign");
    if (!CMS_add1_signer(cms, leaf, key, md, flags)) die("CMS_add1_signer");
    if (CMS_final(cms, in, NULL, flags) != 1) die("CMS_final");
    unsigned char *der = NULL;
    *der_len = i2d_CMS_ContentInfo(cms, &der);
    if (*der_len <= 0) die("i2d_CMS_ContentInfo");
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    return der;
}

static int count_certs(const unsigned char *der, int der_len) {
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, der_len);
    if (!cms) die("d2i_CMS_ContentInfo");
    STACK_OF(X509) *certs = CMS_get1_certs(cms);
    int n = certs ? sk_X509_num(certs) : 0;
    sk_X509_pop_free(certs, X509_free);
    CMS_ContentInfo_free(cms);
    return n;
}

static void verify_once(const unsigned char *der, int der_len, X509_STORE *store, STACK_OF(X509) *certs) {
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, der_len);
    if (!cms) die("d2i_CMS_ContentInfo");
    BIO *out = BIO_new(BIO_s_mem());
    if (CMS_verify(cms, certs, store, NULL, out, CMS_BINARY) != 1) die("CMS_verify");
    BIO_free(out);
    CMS_ContentInfo_free(cms);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: cms_peer DIR SECONDS\n");
        return 2;
    }
    const char *dir = argv[1];
    double seconds = atof(argv[2]);
    X509 *root = load_cert(path(dir, "root.pem"));
    X509 *ca = load_cert(path(dir, "ca.pem"));
    X509 *leaf = load_cert(path(dir, "leaf.pem"));
    FILE *kf = fopen(path(dir, "leaf.key"), "r");
    if (!kf) die("leaf.key");
    EVP_PKEY *key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
    fclose(kf);
    if (!key) die("leaf.key");
    long plen;
    unsigned char *payload = load_file(path(dir, "payload.bin"), &plen);

    STACK_OF(X509) *chain = sk_X509_new_null();
    sk_X509_push(chain, ca);
    /* Certificates embedded: the store trusts the root; the CA comes from the envelope. */
    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, root);
    /* Certificates omitted: OpenSSL builds chains only from the envelope and the store,
       so the CA goes into the store (as Keystone's token verification does), and the
       signer is found in `certs`. */
    X509_STORE *store_omitted = X509_STORE_new();
    X509_STORE_add_cert(store_omitted, root);
    X509_STORE_add_cert(store_omitted, ca);
    STACK_OF(X509) *signer_certs = sk_X509_new_null();
    sk_X509_push(signer_certs, leaf);

    /* waxseal's choice: SHA-384 for P-384, SHA-256 otherwise (Ed25519 is not run here). */
    const EVP_MD *md = EVP_PKEY_get_bits(key) == 384 ? EVP_sha384() : EVP_sha256();

    int n_embedded, n_omitted;
    unsigned char *embedded = sign_once(leaf, key, md, chain, payload, plen, 0, &n_embedded);
    unsigned char *omitted = sign_once(leaf, key, md, chain, payload, plen, 1, &n_omitted);
    if (count_certs(embedded, n_embedded) != 2) die("embedded envelope: expected 2 certificates");
    if (count_certs(omitted, n_omitted) != 0) die("omitted envelope: expected no certificate");
    verify_once(embedded, n_embedded, store, NULL);
    verify_once(omitted, n_omitted, store_omitted, signer_certs);

    double t0, t, rates[2];
    long n;
    for (int omit = 0; omit <= 1; omit++) {
        t0 = now();
        n = 0;
        do {
            int len;
            unsigned char *der = sign_once(leaf, key, md, chain, payload, plen, omit, &len);
            OPENSSL_free(der);
            n++;
        } while ((t = now()) - t0 < seconds);
        rates[omit] = n / (t - t0);
    }

    t0 = now();
    n = 0;
    do {
        verify_once(embedded, n_embedded, store, NULL);
        n++;
    } while ((t = now()) - t0 < seconds);
    double verify_embedded = n / (t - t0);

    t0 = now();
    n = 0;
    do {
        verify_once(omitted, n_omitted, store_omitted, signer_certs);
        n++;
    } while ((t = now()) - t0 < seconds);
    double verify_omitted = n / (t - t0);

    printf("{\"sign_embedded\": %.1f, \"sign_omitted\": %.1f, \"verify_embedded\": %.1f, "
           "\"verify_omitted\": %.1f, \"envelope_bytes_embedded\": %d, \"envelope_bytes_omitted\": %d}\n",
           rates[0], rates[1], verify_embedded, verify_omitted, n_embedded, n_omitted);
    return 0;
}
