/* libcrypto's one-shot HMAC, called directly by the fuzzers to compute the
   codes an answer must equal, without going through TwoStepCore. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
