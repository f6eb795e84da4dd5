/* Helpers private to tfchain-dev's own files; not for other modules. */
#ifndef ZOS_DEVCHAIN_DEVCHAIN_INT_H
#define ZOS_DEVCHAIN_DEVCHAIN_INT_H

/* Returns x's error code from the calling function when it is not 0: the
 * pallets' calls are sequences of storage steps, each of which may fail. */
#define TRY(x)                                                                                     \
	do {                                                                                       \
		int rc_ = (x);                                                                     \
		if (rc_)                                                                           \
			return rc_;                                                                \
	} while (0)

#endif
