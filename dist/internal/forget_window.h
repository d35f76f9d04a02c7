// Open MPI 4.1 frees every window still open at MPI_Finalize, and freeing
// one (osc/pt2pt) is a barrier over its members: if some are gone (their
// job died), MPI_Finalize waits for ever. An abandoned group's window is
// therefore taken off Open MPI's list of windows, through the two internal
// symbols that list is made of, so that MPI_Finalize does not see it; its
// memory stays allocated until the process exits. Open MPI only.
#ifndef FASTVIDEO_DIST_INTERNAL_FORGET_WINDOW_H_
#define FASTVIDEO_DIST_INTERNAL_FORGET_WINDOW_H_

#include <mpi.h>

namespace fastvideo::dist {

void ForgetWindow(MPI_Win window);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_FORGET_WINDOW_H_
