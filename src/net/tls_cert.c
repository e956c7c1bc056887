/* Certificate generation with OpenSSL 3 (see tls_cert.h). */
#include "net/tls_cert.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <uv.h>

#include "base/err.h"

static int tls_cert_ossl_fail(char *err, size_t errlen, const char *what)
{
    char text[256];
    ERR_error_string_n(ERR_get_error(), text, sizeof text);
    err_set(err, errlen, "%s: %s", what, text);
    ERR_clear_error();
    return CFRP_EINVAL;
}

static int tls_cert_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext) return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* Builds "DNS:a,DNS:b,IP:1.2.3.4" for subjectAltName; 0 or -1 if it does not fit. */
static int tls_cert_san(const struct tls_cert_spec *spec, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < spec->ndns + spec->nips; i++) {
        const char *kind = i < spec->ndns ? "DNS" : "IP";
        const char *val = i < spec->ndns ? spec->dns_names[i] : spec->ips[i - spec->ndns];
        int n = snprintf(out + used, outlen - used, "%s%s:%s", used ? "," : "", kind, val);
        if (n < 0 || (size_t)n >= outlen - used) return -1;
        used += (size_t)n;
    }
    return 0;
}

int tls_cert_generate(const struct tls_cert_spec *spec, EVP_PKEY **key, X509 **cert,
                      char *err, size_t errlen)
{
    *key = NULL;
    *cert = NULL;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (!k) return tls_cert_ossl_fail(err, errlen, "generate key");
    X509 *c = X509_new();
    if (!c) {
        EVP_PKEY_free(k);
        return UV_ENOMEM;
    }
    X509 *issuer = spec->issuer_cert ? spec->issuer_cert : c;
    EVP_PKEY *signer = spec->issuer_key ? spec->issuer_key : k;
    char san[2048];
    bool ok = X509_set_version(c, 2) &&
              ASN1_INTEGER_set(X509_get_serialNumber(c), spec->serial) &&
              X509_gmtime_adj(X509_getm_notBefore(c), -3600) &&
              X509_gmtime_adj(X509_getm_notAfter(c), (long)spec->days * 86400) &&
              X509_set_pubkey(c, k);
    if (ok && spec->common_name)
        ok = X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_UTF8,
                                        (const unsigned char *)spec->common_name, -1, -1, 0);
    if (ok) ok = X509_set_issuer_name(c, X509_get_subject_name(issuer));
    if (ok && spec->is_ca)
        ok = tls_cert_add_ext(c, issuer, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
             tls_cert_add_ext(c, issuer, NID_key_usage, "critical,keyCertSign,cRLSign") == 0 &&
             tls_cert_add_ext(c, issuer, NID_subject_key_identifier, "hash") == 0;
    if (ok && spec->ndns + spec->nips > 0) {
        if (tls_cert_san(spec, san, sizeof san) != 0) {
            X509_free(c);
            EVP_PKEY_free(k);
            err_set(err, errlen, "subjectAltName too long");
            return CFRP_EINVAL;
        }
        ok = tls_cert_add_ext(c, issuer, NID_subject_alt_name, san) == 0;
    }
    if (ok) ok = X509_sign(c, signer, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(c);
        EVP_PKEY_free(k);
        return tls_cert_ossl_fail(err, errlen, "make certificate");
    }
    *key = k;
    *cert = c;
    return 0;
}

/* The process-wide default pair, made once under the lock and never freed: it lives
 * as long as the process, like frp's. */
static pthread_mutex_t tls_cert_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_PKEY *tls_cert_default_key;
static X509 *tls_cert_default_cert;

static int tls_cert_make_default(char *err, size_t errlen)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    if (!k) return tls_cert_ossl_fail(err, errlen, "generate RSA key");
    X509 *c = X509_new();
    ASN1_TIME *t = ASN1_TIME_new();
    bool ok = c && t && X509_set_version(c, 2) &&
              ASN1_INTEGER_set(X509_get_serialNumber(c), 1) &&
              ASN1_TIME_set_string_X509(t, "00010101000000Z") &&
              X509_set1_notBefore(c, t) && X509_set1_notAfter(c, t) &&
              X509_set_pubkey(c, k) && X509_sign(c, k, EVP_sha256()) > 0;
    ASN1_TIME_free(t);
    if (!ok) {
        X509_free(c);
        EVP_PKEY_free(k);
        return tls_cert_ossl_fail(err, errlen, "make default certificate");
    }
    tls_cert_default_key = k;
    tls_cert_default_cert = c;
    /* Key generation churns through ~1 MiB of short-lived big numbers, and it now
     * runs in the middle of a handshake, when live allocations pin the top of the
     * heap: give the freed pages back to the system. */
    malloc_trim(0);
    return 0;
}

int tls_cert_default(EVP_PKEY **key, X509 **cert, char *err, size_t errlen)
{
    pthread_mutex_lock(&tls_cert_lock);
    int rc = tls_cert_default_cert ? 0 : tls_cert_make_default(err, errlen);
    if (rc == 0) {
        EVP_PKEY_up_ref(tls_cert_default_key);
        X509_up_ref(tls_cert_default_cert);
        *key = tls_cert_default_key;
        *cert = tls_cert_default_cert;
    }
    pthread_mutex_unlock(&tls_cert_lock);
    return rc;
}

static int tls_cert_open(const char *path, int mode, FILE **f, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0 || !(*f = fdopen(fd, "w"))) {
        int e = errno;
        if (fd >= 0) close(fd);
        err_set(err, errlen, "open %s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}

int tls_cert_write_pem(const char *cert_path, const char *key_path, X509 *cert,
                       EVP_PKEY *key, char *err, size_t errlen)
{
    FILE *f;
    int rc = tls_cert_open(cert_path, 0644, &f, err, errlen);
    if (rc) return rc;
    bool ok = PEM_write_X509(f, cert) == 1;
    if (fclose(f) != 0) ok = false;
    if (!ok) return tls_cert_ossl_fail(err, errlen, cert_path);
    if (!key_path) return 0;
    rc = tls_cert_open(key_path, 0600, &f, err, errlen);
    if (rc) return rc;
    ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
    if (fclose(f) != 0) ok = false;
    if (!ok) return tls_cert_ossl_fail(err, errlen, key_path);
    return 0;
}
