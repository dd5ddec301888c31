/* Nettle's HMAC, called directly by the fuzzers to compute the codes an
   answer must equal, without going through TwoStepCore. */
#include <nettle/hmac.h>
/* SHA-256 and Base64, for the SSH key fuzzers' reference fingerprint. */
#include <nettle/sha2.h>
#include <nettle/base64.h>
