#include "server/ctl/commands.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "grpc/health/v1/health.grpc.pb.h"
#include "server/ctl/admission_args.h"
#include "server/ctl/capture_command.h"
#include "server/ctl/data_commands.h"
#include "server/ctl/output.h"
#include "tapstack/v1/endpoints.grpc.pb.h"
#include "tapstack/v1/stack.grpc.pb.h"

namespace tapstack::ctl {
namespace {

std::string read_file(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(flag + ": cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::shared_ptr<grpc::Channel> make_channel(const GlobalOptions& o) {
  grpc::ChannelArguments args;
  // tapstackd is a local control plane: never route to it through an HTTP proxy.
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  bool tls = o.tls || !o.tls_ca.empty() || !o.tls_cert.empty() || !o.tls_key.empty();
  if (!tls) return grpc::CreateCustomChannel(o.server, grpc::InsecureChannelCredentials(), args);
  if (o.tls_cert.empty() != o.tls_key.empty())
    throw UsageError("--tls-cert and --tls-key go together");
  grpc::SslCredentialsOptions ssl;
  if (!o.tls_ca.empty()) ssl.pem_root_certs = read_file("--tls-ca", o.tls_ca);
  if (!o.tls_cert.empty()) {
    ssl.pem_cert_chain = read_file("--tls-cert", o.tls_cert);
    ssl.pem_private_key = read_file("--tls-key", o.tls_key);
  }
  if (!o.tls_server_name.empty()) args.SetSslTargetNameOverride(o.tls_server_name);
  return grpc::CreateCustomChannel(o.server, grpc::SslCredentials(ssl), args);
}

class Client {
 public:
  explicit Client(const GlobalOptions& o)
      : options(o),
        channel_(make_channel(o)),
        endpoints(v1::Endpoints::NewStub(channel_)),
        stack(v1::Stack::NewStub(channel_)),
        capture(v1::Capture::NewStub(channel_)),
        health(grpc::health::v1::Health::NewStub(channel_)) {}

  // A context with the --timeout deadline (none for streams that run until Ctrl-C).
  std::unique_ptr<grpc::ClientContext> context(bool with_deadline = true) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (with_deadline && options.timeout_seconds > 0) {
      ctx->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::duration_cast<std::chrono::system_clock::duration>(
                            std::chrono::duration<double>(options.timeout_seconds)));
    }
    return ctx;
  }

  const GlobalOptions& options;

 private:
  std::shared_ptr<grpc::Channel> channel_;

 public:
  std::unique_ptr<v1::Endpoints::Stub> endpoints;
  std::unique_ptr<v1::Stack::Stub> stack;
  std::unique_ptr<v1::Capture::Stub> capture;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
};

int fail(const grpc::Status& status) {
  std::cerr << "tapstackctl: " << code_name(status.error_code()) << ": " << status.error_message()
            << "\n";
  return static_cast<int>(status.error_code());
}

// Prints a message in the chosen format, or the failure.
template <class Message, class Text>
int report(const Client& c, const grpc::Status& status, const Message& message, Text print_text) {
  if (!status.ok()) return fail(status);
  if (c.options.json) {
    print_json(message);
  } else {
    print_text(message);
  }
  return 0;
}

int report_endpoint(const Client& c, const grpc::Status& status, const v1::Endpoint& endpoint) {
  return report(c, status, endpoint, print_endpoint);
}

// Calls an Endpoints method that answers with an Endpoint, and reports it.
template <class Request>
int call_endpoint(Client& c,
                  grpc::Status (v1::Endpoints::Stub::*method)(grpc::ClientContext*, const Request&,
                                                              v1::Endpoint*),
                  const Request& request) {
  v1::Endpoint response;
  auto ctx = c.context();
  return report_endpoint(c, ((*c.endpoints).*method)(ctx.get(), request, &response), response);
}

uint64_t take_id(Args& args) {
  return parse_number("ID", args.next("ID"));
}

// Prints only the new id, so that `id=$(tapstackctl create)` works (as `docker create` does);
// -o json prints the whole endpoint, and `get ID` shows it.
int cmd_create(Client& c, Args& args) {
  args.done();
  v1::Endpoint created;
  auto ctx = c.context();
  grpc::Status status =
      c.endpoints->CreateEndpoint(ctx.get(), v1::CreateEndpointRequest{}, &created);
  return report(c, status, created,
                [](const v1::Endpoint& endpoint) { std::cout << endpoint.id() << "\n"; });
}

int cmd_bind(Client& c, Args& args) {
  v1::BindRequest request;
  request.set_v6_only(args.take_switch("--v6-only"));
  request.set_id(take_id(args));
  HostPort local = parse_host_port("[ADDRESS:]PORT", args.next("[ADDRESS:]PORT"), false);
  args.done();
  request.set_address(local.address);
  request.set_port(local.port);
  return call_endpoint(c, &v1::Endpoints::Stub::Bind, request);
}

// keepalive ID off | keepalive ID IDLE INTERVAL COUNT (seconds, seconds, probes)
int cmd_keepalive(Client& c, Args& args) {
  v1::SetKeepaliveRequest request;
  request.set_id(take_id(args));
  std::string first = args.next("off|IDLE");
  if (first != "off") {
    v1::Keepalive* k = request.mutable_keepalive();
    k->mutable_idle()->set_seconds(static_cast<int64_t>(parse_number("IDLE", first)));
    k->mutable_interval()->set_seconds(
        static_cast<int64_t>(parse_number("INTERVAL", args.next("INTERVAL"))));
    k->set_count(static_cast<uint32_t>(parse_number("COUNT", args.next("COUNT"))));
  }
  args.done();
  return call_endpoint(c, &v1::Endpoints::Stub::SetKeepalive, request);
}

google::protobuf::Duration parse_timeout(std::string_view what, std::string_view text) {
  const int64_t ms = parse_duration(what, text).count();
  google::protobuf::Duration d;
  d.set_seconds(ms / 1000);
  d.set_nanos(static_cast<int32_t>(ms % 1000) * 1'000'000);
  return d;
}

bool parse_on_off(std::string_view what, std::string_view text) {
  if (text == "on") return true;
  if (text == "off") return false;
  throw UsageError(std::string(what) + " must be on or off, not '" + std::string(text) + "'");
}

// set ID [--nodelay on|off] [--user-timeout DURATION]
int cmd_set(Client& c, Args& args) {
  v1::SetOptionsRequest request;
  if (auto v = args.take_option("--nodelay"))
    request.mutable_no_delay()->set_value(parse_on_off("--nodelay", *v));
  if (auto v = args.take_option("--user-timeout")) {
    *request.mutable_user_timeout() = parse_timeout("--user-timeout", *v);
  }
  request.set_id(take_id(args));
  args.done();
  if (!request.has_no_delay() && !request.has_user_timeout()) {
    throw UsageError("set needs --nodelay, --user-timeout or both");
  }
  return call_endpoint(c, &v1::Endpoints::Stub::SetOptions, request);
}

int cmd_listen(Client& c, Args& args) {
  v1::ListenRequest request;
  if (auto backlog = args.take_option("--backlog")) {
    request.mutable_backlog()->set_value(
        static_cast<uint32_t>(parse_number("--backlog", *backlog)));
  }
  if (auto syn = args.take_option("--syn-backlog")) {
    request.mutable_syn_backlog()->set_value(
        static_cast<uint32_t>(parse_number("--syn-backlog", *syn)));
  }
  if (!take_admission_flags(args, *request.mutable_admission())) request.clear_admission();
  request.set_id(take_id(args));
  args.done();
  return call_endpoint(c, &v1::Endpoints::Stub::Listen, request);
}

// The listener's admission policy and counters, from an Endpoint answer.
int report_admission(const Client& c, const grpc::Status& status, const v1::Endpoint& endpoint) {
  if (status.ok() && !endpoint.has_listener()) {
    return fail({grpc::StatusCode::FAILED_PRECONDITION,
                 "endpoint " + std::to_string(endpoint.id()) + " is not a listener (" +
                     state_name(endpoint.state()) + ")"});
  }
  return report(c, status, endpoint.listener().admission(), print_admission);
}

// policy show ID | policy set ID FLAGS... | policy clear ID
int cmd_policy(Client& c, Args& args) {
  const std::string verb = args.next("show|set|clear");
  v1::Endpoint endpoint;
  auto ctx = c.context();
  if (verb == "show") {
    v1::GetEndpointRequest request;
    request.set_id(take_id(args));
    args.done();
    return report_admission(c, c.endpoints->GetEndpoint(ctx.get(), request, &endpoint), endpoint);
  }
  v1::SetAdmissionPolicyRequest request;
  if (verb == "set") {
    // An empty policy is a valid one (it admits everything, and counts): `policy clear` is
    // what removes it, so a `set` without flags is more likely a mistake.
    if (!take_admission_flags(args, *request.mutable_policy())) {
      throw UsageError("policy set needs at least one policy flag (policy clear removes it)");
    }
  } else if (verb == "clear") {
    request.set_clear(true);
  } else {
    throw UsageError("policy takes show, set or clear, not '" + verb + "'");
  }
  request.set_id(take_id(args));
  args.done();
  return report_admission(c, c.endpoints->SetAdmissionPolicy(ctx.get(), request, &endpoint),
                          endpoint);
}

int cmd_connect(Client& c, Args& args) {
  v1::ConnectRequest request;
  request.set_id(take_id(args));
  HostPort remote = parse_host_port("ADDRESS:PORT", args.next("ADDRESS:PORT"), true);
  args.done();
  request.mutable_remote()->set_address(remote.address);
  request.mutable_remote()->set_port(remote.port);
  return call_endpoint(c, &v1::Endpoints::Stub::Connect, request);
}

std::string to_upper(std::string text) {
  for (char& ch : text) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return text;
}

// accept ID --stream: StreamAccept until the listener closes or --count connections came.
int stream_accept(Client& c, Args& args, uint64_t id) {
  v1::StreamAcceptRequest request;
  request.set_id(id);
  std::string after = args.take_option("--after").value_or("keep");
  v1::StreamAcceptRequest::AfterAccept mode;
  if (!v1::StreamAcceptRequest::AfterAccept_Parse("AFTER_ACCEPT_" + to_upper(after), &mode)) {
    throw UsageError("--after must be keep, close or abort, not '" + after + "'");
  }
  request.set_after_accept(mode);
  if (auto count = args.take_option("--count")) {
    request.set_max_connections(parse_number("--count", *count));
  }
  if (auto delay = args.take_option("--max-delay-us")) {
    uint64_t us = parse_number("--max-delay-us", *delay);
    request.mutable_max_delay()->set_seconds(static_cast<int64_t>(us / 1'000'000));
    request.mutable_max_delay()->set_nanos(static_cast<int32_t>(us % 1'000'000 * 1000));
  }
  // --quiet prints only the number taken at the end: for load tests, where printing each
  // connection would cost more than taking it.
  bool quiet = args.take_switch("--quiet");
  args.done();
  auto ctx = c.context(false);
  auto reader = c.endpoints->StreamAccept(ctx.get(), request);
  v1::StreamAcceptResponse message;
  uint64_t taken = 0;
  while (reader->Read(&message)) {
    taken += static_cast<uint64_t>(message.connections_size());
    if (quiet) continue;
    for (const v1::Endpoint& endpoint : message.connections()) {
      if (c.options.json) {
        print_json(endpoint);
      } else {
        print_endpoint(endpoint);
      }
    }
    std::cout.flush();
  }
  grpc::Status status = reader->Finish();
  if (quiet) std::cout << taken << "\n";
  return status.ok() ? 0 : fail(status);
}

int cmd_accept(Client& c, Args& args) {
  uint64_t id = take_id(args);
  if (args.take_switch("--stream")) return stream_accept(c, args, id);
  v1::AcceptRequest request;
  request.set_id(id);
  args.done();
  return call_endpoint(c, &v1::Endpoints::Stub::Accept, request);
}

int cmd_get(Client& c, Args& args) {
  v1::GetEndpointRequest request;
  request.set_id(take_id(args));
  args.done();
  return call_endpoint(c, &v1::Endpoints::Stub::GetEndpoint, request);
}

int cmd_close(Client& c, Args& args) {
  v1::CloseRequest request;
  request.set_abort(args.take_switch("--abort"));
  request.set_id(take_id(args));
  args.done();
  v1::CloseResponse response;
  auto ctx = c.context();
  return report(c, c.endpoints->Close(ctx.get(), request, &response), response,
                [&](const v1::CloseResponse&) {
                  std::cout << (request.abort() ? "aborted " : "closed ") << request.id() << "\n";
                });
}

int cmd_ls(Client& c, Args& args) {
  v1::ListEndpointsRequest request;
  if (args.take_switch("-l")) request.set_state(v1::TCP_STATE_LISTEN);
  const bool details = args.take_switch("-i");
  args.done();
  v1::ListEndpointsResponse all;
  do {  // every page
    v1::ListEndpointsResponse page;
    auto ctx = c.context();
    if (auto s = c.endpoints->ListEndpoints(ctx.get(), request, &page); !s.ok()) return fail(s);
    all.mutable_endpoints()->MergeFrom(page.endpoints());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return report(c, grpc::Status::OK, all, [&](const v1::ListEndpointsResponse& list) {
    print_endpoint_table(list, details);
  });
}

int cmd_stats(Client& c, Args& args) {
  args.done();
  v1::Stats response;
  auto ctx = c.context();
  return report(c, c.stack->GetStats(ctx.get(), {}, &response), response, print_stats);
}

// KEY=VALUE into the tunables of an UpdateConfig request.
void set_tunable(v1::Tunables& t, const std::string& assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string::npos) throw UsageError("config takes KEY=VALUE, not '" + assignment + "'");
  std::string key = assignment.substr(0, eq);
  std::string value = assignment.substr(eq + 1);
  if (key == "syncookies") {
    v1::SynCookieMode mode;
    std::string upper = "SYN_COOKIE_MODE_";
    for (char ch : value) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (!v1::SynCookieMode_Parse(upper, &mode) || mode == v1::SYN_COOKIE_MODE_UNSPECIFIED) {
      throw UsageError("syncookies must be never, auto or always");
    }
    t.set_syncookies(mode);
  } else if (key == "syn_retries") {
    t.mutable_syn_retries()->set_value(static_cast<uint32_t>(parse_number(key, value)));
  } else if (key == "synack_retries") {
    t.mutable_synack_retries()->set_value(static_cast<uint32_t>(parse_number(key, value)));
  } else if (key == "abort_on_overflow") {
    if (value != "true" && value != "false")
      throw UsageError("abort_on_overflow must be true or false");
    t.mutable_abort_on_overflow()->set_value(value == "true");
  } else {
    throw UsageError("unknown tunable '" + key + "'");
  }
}

int cmd_config(Client& c, Args& args) {
  v1::UpdateConfigRequest update;
  bool changing = false;
  while (auto assignment = args.next_optional()) {
    set_tunable(*update.mutable_tunables(), *assignment);
    changing = true;
  }
  args.done();
  v1::Config response;
  auto ctx = c.context();
  grpc::Status status = changing ? c.stack->UpdateConfig(ctx.get(), update, &response)
                                 : c.stack->GetConfig(ctx.get(), {}, &response);
  return report(c, status, response, print_config);
}

int cmd_watch(Client& c, Args& args) {
  v1::WatchEventsRequest request;
  if (auto queue = args.take_option("--queue")) {
    request.set_queue_limit(static_cast<uint32_t>(parse_number("--queue", *queue)));
  }
  if (auto id = args.next_optional()) request.set_endpoint_id(parse_number("ID", *id));
  args.done();
  auto ctx = c.context(false);
  auto reader = c.endpoints->WatchEvents(ctx.get(), request);
  v1::WatchEventsResponse event;
  while (reader->Read(&event)) {
    if (c.options.json) {
      print_json(event);
      std::cout.flush();
    } else {
      print_event(event);
    }
  }
  grpc::Status status = reader->Finish();
  return status.ok() ? 0 : fail(status);
}

int cmd_rotate_cookie_secret(Client& c, Args& args) {
  args.done();
  v1::RotateSynCookieSecretResponse response;
  auto ctx = c.context();
  grpc::Status status = c.stack->RotateSynCookieSecret(ctx.get(), {}, &response);
  if (!status.ok()) return fail(status);
  if (!c.options.json) std::cout << "SYN-cookie secret rotated\n";
  if (c.options.json) print_json(response);
  return 0;
}

int cmd_health(Client& c, Args& args) {
  args.done();
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  auto ctx = c.context();
  grpc::Status status = c.health->Check(ctx.get(), request, &response);
  if (!status.ok()) return fail(status);
  if (c.options.json) {
    print_json(response);
  } else {
    std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())
              << "\n";
  }
  // Scripts can test the exit code: 0 only when serving.
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? 0
             : static_cast<int>(grpc::StatusCode::UNAVAILABLE);
}

int cmd_capture(Client& c, Args& args) {
  CaptureCommand command = parse_capture_args(args);
  return run_capture(*c.capture, command, c.context(false), fail);
}

struct Command {
  std::string_view name;
  int (*run)(Client&, Args&);
};

// The data verbs (data_commands.h) run over the Endpoints stub.
template <int (*verb)(DataClient&, Args&)>
int data_verb(Client& c, Args& args) {
  DataClient data{*c.endpoints, [&c](bool with_deadline) { return c.context(with_deadline); },
                  fail};
  return verb(data, args);
}

constexpr Command kCommands[] = {
    {"create", cmd_create},
    {"bind", cmd_bind},
    {"listen", cmd_listen},
    {"policy", cmd_policy},
    {"connect", cmd_connect},
    {"accept", cmd_accept},
    {"close", cmd_close},
    {"keepalive", cmd_keepalive},
    {"set", cmd_set},
    {"get", cmd_get},
    {"ls", cmd_ls},
    {"stats", cmd_stats},
    {"config", cmd_config},
    {"watch", cmd_watch},
    {"health", cmd_health},
    {"capture", cmd_capture},
    {"rotate-cookie-secret", cmd_rotate_cookie_secret},
    {"nc", data_verb<cmd_nc>},
    {"cat", data_verb<cmd_cat>},
    {"send", data_verb<cmd_send>},
};

}  // namespace

int run_command(CommandLine& cl) {
  for (const Command& command : kCommands) {
    if (command.name == cl.command) {
      Client client(cl.global);
      return command.run(client, cl.args);
    }
  }
  throw UsageError(cl.command.empty() ? "no command given"
                                      : "unknown command '" + cl.command + "'");
}

}  // namespace tapstack::ctl
