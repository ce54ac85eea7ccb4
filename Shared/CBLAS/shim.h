// OpenBLAS's CBLAS interface. Debian's libopenblas-dev puts cblas.h in a multiarch folder
// (/usr/include/<triple>/cblas.h, an alternatives link to openblas-pthread/cblas.h), which is
// on the compiler's default search path; pkg-config's openblas.pc names the same folder.
#include <cblas.h>
