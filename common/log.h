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

#include <stdint.h>

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

/*
 * The calling thread's log context: what it is working on. Set, every line
 * the thread logs to journald carries the fields ZOS_CONTRACT, ZOS_WORKLOAD
 * and ZOS_TWIN (journalctl ZOS_CONTRACT=42 finds all about contract 42);
 * stderr lines are unchanged. 0 or NULL unsets one; log_ctx_clear all.
 */
void log_ctx_contract(uint64_t contract_id);
void log_ctx_twin(uint32_t twin_id);
void log_ctx_workload(const char *name); /* copied, truncated to 63 bytes */
void log_ctx_clear(void);

#define log_err(mod, ...) log_msg(LOG_LVL_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOG_LVL_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_LVL_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...) log_msg(LOG_LVL_DEBUG, mod, __VA_ARGS__)

#endif
