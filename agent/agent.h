/*
 * The public header of agent/: the uploader, the HTTP server, the option table and the
 * commands. Tests and the executable include this header only.
 */
#ifndef PODPROF_AGENT_H
#define PODPROF_AGENT_H

#include "commands.h"
#include "httpserver.h"
#include "options.h"
#include "uploader.h"

#endif
