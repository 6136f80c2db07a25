#include "store/keys.h"
#include "core/log.h"
#include "core/util.h"
#include "store/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct trl_store_key {
    EVP_PKEY *pkey;
    bool has_private;
    char id[TRL_KEY_ID_LEN + 1];
};

static int key_paths(const char *data_dir, char *dir, char *priv, char *pub)
{
    if (snprintf(dir, PATH_MAX, "%s/keys", data_dir) >= PATH_MAX ||
        snprintf(priv, PATH_MAX, "%s/keys/store-signing.key", data_dir) >= PATH_MAX ||
        snprintf(pub, PATH_MAX, "%s/keys/store-signing.pub", data_dir) >= PATH_MAX)
        return -ENAMETOOLONG;
    return 0;
}

static struct trl_store_key *wrap(EVP_PKEY *pkey, bool has_private)
{
    uint8_t raw[32];
    size_t len = sizeof(raw);
    if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 || len != sizeof(raw)) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    uint8_t h[TRL_SHA256_LEN];
    unsigned hl = 0;
    if (EVP_Digest(raw, len, h, &hl, EVP_sha256(), NULL) != 1) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    struct trl_store_key *k = trl_xcalloc(1, sizeof(*k));
    k->pkey = pkey;
    k->has_private = has_private;
    trl_hex(h, TRL_KEY_ID_LEN / 2, k->id);
    return k;
}

static EVP_PKEY *read_private(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (k && EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

static EVP_PKEY *read_public(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (k && EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

/* Writes a PEM file under a temporary name, syncs it, then gives it its final name: with link()
 * when it must not replace an existing file (a concurrent creator wins), rename() otherwise. */
static int write_pem(const char *path, EVP_PKEY *k, bool private_key, bool exclusive)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, private_key ? 0600 : 0644);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int err = -errno;
        close(fd);
        unlink(tmp);
        return err;
    }
    int ok = private_key ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)
                         : PEM_write_PUBKEY(f, k);
    int rc = ok == 1 && fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -EIO;
    if (fclose(f) != 0 && rc == 0)
        rc = -EIO;
    if (rc == 0) {
        if (exclusive)
            rc = link(tmp, path) == 0 ? 0 : -errno;
        else
            rc = rename(tmp, path) == 0 ? 0 : -errno;
    }
    unlink(tmp);
    return rc;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int trl_store_key_open(const char *data_dir, struct trl_store_key **out)
{
    char dir[PATH_MAX], priv[PATH_MAX], pub[PATH_MAX];
    *out = NULL;
    int rc = key_paths(data_dir, dir, priv, pub);
    if (rc != 0)
        return rc;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
        trl_error("store", "cannot create path=%s error=\"%s\"", dir, strerror(errno));
        return rc;
    }
    EVP_PKEY *k = read_private(priv);
    if (!k && access(priv, F_OK) == 0) {
        trl_error("store", "unreadable or not an Ed25519 key path=%s", priv);
        return -EINVAL;
    }
    if (!k) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
        if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &k) != 1) {
            EVP_PKEY_CTX_free(ctx);
            trl_error("store", "cannot generate an Ed25519 key");
            return -EIO;
        }
        EVP_PKEY_CTX_free(ctx);
        rc = write_pem(priv, k, true, true);
        if (rc == -EEXIST) {
            /* Another process created it first: use theirs. */
            EVP_PKEY_free(k);
            k = read_private(priv);
            rc = k ? 0 : -EINVAL;
        } else if (rc == 0) {
            trl_info("store", "created the store signing key path=%s", priv);
        }
        if (rc != 0) {
            EVP_PKEY_free(k);
            trl_error("store", "cannot write path=%s error=\"%s\"", priv, trl_strerror(rc));
            return rc;
        }
        unlink(pub);
    }
    /* The public file is derived from the private key: rewrite it when missing or when it no
     * longer matches (verify would otherwise report every signature as foreign). */
    EVP_PKEY *on_disk = read_public(pub);
    bool stale = !on_disk || EVP_PKEY_eq(on_disk, k) != 1;
    if (on_disk && stale)
        trl_warn("store", "public key does not match the signing key, rewriting path=%s", pub);
    EVP_PKEY_free(on_disk);
    if (stale) {
        rc = write_pem(pub, k, false, false);
        if (rc != 0) {
            EVP_PKEY_free(k);
            trl_error("store", "cannot write path=%s error=\"%s\"", pub, trl_strerror(rc));
            return rc;
        }
    }
    sync_dir(dir);
    *out = wrap(k, true);
    return *out ? 0 : -EINVAL;
}

int trl_store_key_open_public(const char *data_dir, const char *pub_path,
                              struct trl_store_key **out)
{
    char dir[PATH_MAX], priv[PATH_MAX], pub[PATH_MAX];
    *out = NULL;
    int rc = key_paths(data_dir, dir, priv, pub);
    if (rc != 0)
        return rc;
    EVP_PKEY *k = read_public(pub_path ? pub_path : pub);
    if (!k && !pub_path) {
        k = read_private(priv);
        if (k) {
            *out = wrap(k, false);
            return *out ? 0 : -EINVAL;
        }
    }
    if (!k)
        return -ENOENT;
    *out = wrap(k, false);
    return *out ? 0 : -EINVAL;
}

void trl_store_key_free(struct trl_store_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

const char *trl_store_key_id(const struct trl_store_key *k)
{
    return k->id;
}

int trl_store_key_sign(const struct trl_store_key *k, const void *msg, size_t len,
                       uint8_t sig[TRL_SIG_LEN])
{
    if (!k->has_private)
        return -EPERM;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = TRL_SIG_LEN;
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == TRL_SIG_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -EIO;
}

bool trl_store_key_verify(const struct trl_store_key *k, const void *msg, size_t len,
                          const uint8_t *sig, size_t sig_len)
{
    if (sig_len != TRL_SIG_LEN)
        return false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
              EVP_DigestVerify(ctx, sig, sig_len, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}
