// CBLAS from Debian's libopenblas-dev, linked as libopenblas (cblas.h is the OpenBLAS one through the
// cblas.h-x86_64-linux-gnu alternative; libblas.so.3 points at OpenBLAS).
#include <cblas.h>
