#ifndef TWOSTEP_CCRYPTO_SHIM_H
#define TWOSTEP_CCRYPTO_SHIM_H
/* The system crypto twostep uses: Nettle (libnettle.so.8) for HMAC and
   SHA-2 (one-time codes, backup-code hashes, SSH key fingerprints), Base64
   and constant-time compare. Nettle needs no initialisation when loaded. */
#include <nettle/base64.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>
/* getrandom(2): the kernel CSPRNG, for secrets, salts and codes. */
#include <sys/random.h>
#endif
