/*
 * pq.h — libpq, loaded only when the store is PostgreSQL.
 *
 * The binary does not link libpq: with it come libcrypto, GnuTLS, Kerberos
 * and LDAP, 4 MiB of resident pages and a larger surface in every process,
 * even one that only ever opens SQLite. sql_postgres.c includes this header
 * instead of calling libpq directly; every PQ* name below then goes through
 * a table that pc_pq_load() fills from libpq.so.5 with dlopen on first use.
 */
#ifndef PC_STORE_PQ_H
#define PC_STORE_PQ_H

#include <stddef.h>

#include <libpq-fe.h>

#include "core/err.h"

#define PC_PQ_FUNCS(X)                                                                           \
	X(PQclear) X(PQntuples) X(PQresultStatus) X(PQstatus) X(PQgetvalue) X(PQexec)             \
	X(PQgetisnull) X(PQtransactionStatus) X(PQresultErrorField) X(PQgetlength)                 \
	X(PQerrorMessage) X(PQreset) X(PQprepare) X(PQftype) X(PQsetSingleRowMode)                 \
	X(PQsetNoticeReceiver) X(PQserverVersion) X(PQsendQueryPrepared) X(PQresultErrorMessage)   \
	X(PQparameterStatus) X(PQisthreadsafe) X(PQgetResult) X(PQfreemem) X(PQfinish)             \
	X(PQfformat) X(PQexecPrepared) X(PQexecParams) X(PQconninfoParse) X(PQconninfoFree)        \
	X(PQconnectdbParams) X(PQcmdTuples) X(PQcmdStatus)

struct pc_pq {
#define PC_PQ_MEMBER(name) __typeof__(&name) name;
	PC_PQ_FUNCS(PC_PQ_MEMBER)
#undef PC_PQ_MEMBER
};

extern struct pc_pq pc_pq;

/* Loads libpq once (thread-safe). 0, or -1 with a message in err naming
 * the library and what went wrong. */
PC_MUST_USE int pc_pq_load(char *err, size_t errlen);

#ifndef PC_PQ_IMPL
#define PQclear pc_pq.PQclear
#define PQntuples pc_pq.PQntuples
#define PQresultStatus pc_pq.PQresultStatus
#define PQstatus pc_pq.PQstatus
#define PQgetvalue pc_pq.PQgetvalue
#define PQexec pc_pq.PQexec
#define PQgetisnull pc_pq.PQgetisnull
#define PQtransactionStatus pc_pq.PQtransactionStatus
#define PQresultErrorField pc_pq.PQresultErrorField
#define PQgetlength pc_pq.PQgetlength
#define PQerrorMessage pc_pq.PQerrorMessage
#define PQreset pc_pq.PQreset
#define PQprepare pc_pq.PQprepare
#define PQftype pc_pq.PQftype
#define PQsetSingleRowMode pc_pq.PQsetSingleRowMode
#define PQsetNoticeReceiver pc_pq.PQsetNoticeReceiver
#define PQserverVersion pc_pq.PQserverVersion
#define PQsendQueryPrepared pc_pq.PQsendQueryPrepared
#define PQresultErrorMessage pc_pq.PQresultErrorMessage
#define PQparameterStatus pc_pq.PQparameterStatus
#define PQisthreadsafe pc_pq.PQisthreadsafe
#define PQgetResult pc_pq.PQgetResult
#define PQfreemem pc_pq.PQfreemem
#define PQfinish pc_pq.PQfinish
#define PQfformat pc_pq.PQfformat
#define PQexecPrepared pc_pq.PQexecPrepared
#define PQexecParams pc_pq.PQexecParams
#define PQconninfoParse pc_pq.PQconninfoParse
#define PQconninfoFree pc_pq.PQconninfoFree
#define PQconnectdbParams pc_pq.PQconnectdbParams
#define PQcmdTuples pc_pq.PQcmdTuples
#define PQcmdStatus pc_pq.PQcmdStatus
#endif

#endif
