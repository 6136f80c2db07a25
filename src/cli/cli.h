/*
 * cli: the `trapline` command line: verb dispatch, --help, and each verb's entry point.
 *
 * Each verb function takes the arguments after the verb name (argv[0] is the verb) and returns the
 * process exit status. Called from main() only.
 */
#ifndef TRL_CLI_H
#define TRL_CLI_H

int trl_cli_main(int argc, char **argv);

int trl_cmd_server(int argc, char **argv);
int trl_cmd_ingest(int argc, char **argv);
int trl_cmd_rules(int argc, char **argv);
int trl_cmd_alerts(int argc, char **argv);
int trl_cmd_search(int argc, char **argv);
int trl_cmd_verify(int argc, char **argv);
int trl_cmd_ioc(int argc, char **argv);
int trl_cmd_users(int argc, char **argv);
int trl_cmd_tokens(int argc, char **argv);
int trl_cmd_token(int argc, char **argv);
int trl_cmd_agents(int argc, char **argv);
int trl_cmd_agent(int argc, char **argv);

#endif
