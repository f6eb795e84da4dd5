/* The version all three programs report with --version. */
#ifndef ZOS_COMMON_VERSION_H
#define ZOS_COMMON_VERSION_H

#define ZOS_VERSION "0.1.0"

#endif
