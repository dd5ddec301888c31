/* Nettle's HMAC, called directly by the fuzzers to compute the codes an
   answer must equal, without going through TwoStepCore. */
#include <nettle/hmac.h>
