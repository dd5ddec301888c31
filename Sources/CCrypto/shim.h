#ifndef TWOSTEP_CCRYPTO_SHIM_H
#define TWOSTEP_CCRYPTO_SHIM_H
/* The system crypto twostep uses: libcrypto (OpenSSL 3) for HMAC and
   SHA-2 for one-time codes and backup-code hashes, and constant-time compare. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
/* getrandom(2): the kernel CSPRNG, for secrets, salts and codes. */
#include <sys/random.h>
#endif
