#ifndef TWOSTEP_CQRENCODE_SHIM_H
#define TWOSTEP_CQRENCODE_SHIM_H
#include <qrencode.h>
#endif
