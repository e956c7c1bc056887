/* Certificates made in-process: frp's default server certificate (protocol.md 1.3),
 * and small CA/leaf certificates for tests and tools. */
#ifndef CFRP_NET_TLS_CERT_H
#define CFRP_NET_TLS_CERT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct tls_cert_spec {
    const char *common_name;       /* NULL: empty subject */
    const char *const *dns_names;  /* subjectAltName DNS entries */
    size_t ndns;
    const char *const *ips;        /* subjectAltName IP entries (literals) */
    size_t nips;
    bool is_ca;                    /* basicConstraints CA:TRUE, keyCertSign */
    long serial;
    int days;                      /* valid from one hour ago for this many days */
    EVP_PKEY *issuer_key;          /* NULL: self-signed */
    X509 *issuer_cert;
};

/* A new EC P-256 key and a certificate as spec says, signed with SHA-256. The caller
 * owns *key and *cert (EVP_PKEY_free, X509_free). 0, or CFRP_EINVAL/UV_ENOMEM with
 * err set. */
int tls_cert_generate(const struct tls_cert_spec *spec, EVP_PKEY **key, X509 **cert,
                      char *err, size_t errlen);

/* frp's certificate for a server without certFile/keyFile: RSA-2048, serial 1, empty
 * subject and issuer, no extensions, valid from 0001-01-01 to 0001-01-01 UTC, SHA-256.
 * Made on the first call and shared by the process (thread-safe); each call returns
 * new references the caller frees. */
int tls_cert_default(EVP_PKEY **key, X509 **cert, char *err, size_t errlen);

/* Writes cert (PEM) to cert_path and, if key_path is non-NULL, the unencrypted
 * PKCS#8 key to key_path (mode 0600). */
int tls_cert_write_pem(const char *cert_path, const char *key_path, X509 *cert,
                       EVP_PKEY *key, char *err, size_t errlen);

#endif
