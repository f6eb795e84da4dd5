/*
 * Logging: one call style for the whole project.
 *
 *   log_info("chain", "connected to %s", url);
 *
 * The first argument names the module (it becomes the journald field
 * ZOS_MODULE). Output goes to journald with structured fields when the process
 * runs under systemd (or when asked), otherwise to stderr with a timestamp.
 * Thread-safe.
 */
#ifndef ZOS_COMMON_LOG_H
#define ZOS_COMMON_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
enum log_target { LOG_TARGET_AUTO = 0, LOG_TARGET_STDERR, LOG_TARGET_JOURNAL };

/* ident: program name for SYSLOG_IDENTIFIER and the stderr prefix (not copied). */
void log_setup(enum log_level level, enum log_target target, const char *ident);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);
int log_target_parse(const char *s, enum log_target *out);
const char *log_target_name(enum log_target target);

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(mod, ...) log_msg(LOG_LVL_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOG_LVL_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_LVL_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...) log_msg(LOG_LVL_DEBUG, mod, __VA_ARGS__)

#endif
