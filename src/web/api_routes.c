/*
 * api_routes: the route table of the REST API: method, path pattern, handler, the least role
 * allowed, flags. Reading needs any role; changing alerts needs analyst; users and tokens admin.
 */
#include "web/web.h"

#include <stddef.h>

#define V1 "/api/v1"

const struct trl_route trl_web_routes[] = {
    {"GET", "/health", trl_api_health, TRL_ROLE_VIEWER, TRL_ROUTE_PUBLIC},
    {"GET", "/metrics", trl_api_metrics, TRL_ROLE_VIEWER, 0},
    {"GET", V1 "/openapi.json", trl_api_openapi, TRL_ROLE_VIEWER, TRL_ROUTE_PUBLIC},
    {"POST", V1 "/login", trl_api_login, TRL_ROLE_VIEWER, TRL_ROUTE_PUBLIC | TRL_ROUTE_NO_CSRF},
    {"POST", V1 "/logout", trl_api_logout, TRL_ROLE_VIEWER, 0},
    {"GET", V1 "/me", trl_api_me, TRL_ROLE_VIEWER, 0},
    {"GET", V1 "/search", trl_api_search, TRL_ROLE_VIEWER, 0},
    {"GET", V1 "/search/tail", trl_api_search_tail, TRL_ROLE_VIEWER, 0},
    {"GET", V1 "/events/{id}", trl_api_event, TRL_ROLE_VIEWER, 0},
    {"GET", V1 "/histogram", trl_api_histogram, TRL_ROLE_VIEWER, 0},
    {"GET", V1 "/overview", trl_api_overview, TRL_ROLE_VIEWER, 0},
    {"GET", V1 "/alerts", trl_api_alerts_list, TRL_ROLE_VIEWER, 0},
    {"GET", V1 "/alerts/{id}", trl_api_alert_get, TRL_ROLE_VIEWER, 0},
    {"PATCH", V1 "/alerts/{id}", trl_api_alert_patch, TRL_ROLE_ANALYST, 0},
    {"POST", V1 "/alerts/{id}/comments", trl_api_alert_comment, TRL_ROLE_ANALYST, 0},
    {"GET", V1 "/rules", trl_api_rules_list, TRL_ROLE_VIEWER, 0},
    {"GET", V1 "/rules/{id}", trl_api_rule_get, TRL_ROLE_VIEWER, 0},
    {"PATCH", V1 "/rules/{id}", trl_api_rule_patch, TRL_ROLE_ANALYST, 0},
    {"POST", V1 "/rules", trl_api_rules_upload, TRL_ROLE_ANALYST, TRL_ROUTE_BIG_BODY},
    {"POST", V1 "/rules/{id}/test", trl_api_rule_test, TRL_ROLE_ANALYST, 0},
    {"GET", V1 "/iocs", trl_api_iocs_list, TRL_ROLE_VIEWER, 0},
    {"POST", V1 "/iocs", trl_api_iocs_import, TRL_ROLE_ANALYST, TRL_ROUTE_BIG_BODY},
    {"GET", V1 "/feeds", trl_api_feeds, TRL_ROLE_VIEWER, 0},
    {"GET", V1 "/sightings", trl_api_sightings, TRL_ROLE_VIEWER, 0},
    {"GET", V1 "/agents", trl_api_agents, TRL_ROLE_VIEWER, 0},
    {"POST", V1 "/agents/tokens", trl_api_agent_token, TRL_ROLE_ADMIN, 0},
    {"POST", V1 "/agents/{id}/revoke", trl_api_agent_revoke, TRL_ROLE_ADMIN, 0},
    {"GET", V1 "/users", trl_api_users_list, TRL_ROLE_ADMIN, 0},
    {"POST", V1 "/users", trl_api_users_add, TRL_ROLE_ADMIN, 0},
    {"PATCH", V1 "/users/{name}", trl_api_users_patch, TRL_ROLE_ADMIN, 0},
    {"DELETE", V1 "/users/{name}", trl_api_users_remove, TRL_ROLE_ADMIN, 0},
    {"GET", V1 "/tokens", trl_api_tokens_list, TRL_ROLE_ADMIN, 0},
    {"POST", V1 "/tokens", trl_api_tokens_create, TRL_ROLE_ADMIN, 0},
    {"DELETE", V1 "/tokens/{id}", trl_api_tokens_revoke, TRL_ROLE_ADMIN, 0},
    {NULL, NULL, NULL, 0, 0},
};
