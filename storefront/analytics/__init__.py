"""Commerce events written inside the domain transactions they describe, the analytics computed
from them, and the back office's dashboard of those analytics."""
