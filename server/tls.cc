#include "server/tls.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

namespace tapstack::server {
namespace {

Result<std::string> read_file(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(ErrorCode::kInvalidArgument, flag + ": cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioDeleter>;

Bio bio_of(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// OpenSSL's default passphrase callback prompts on the terminal; a daemon must never wait for
// one. This one declines, so an encrypted key fails to load instead.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

// PEM marks an encrypted key in its header: "BEGIN ENCRYPTED PRIVATE KEY" (PKCS#8) or a
// "Proc-Type: 4,ENCRYPTED" line (traditional OpenSSL format).
bool encrypted(const std::string& key_pem) {
  return key_pem.find("ENCRYPTED") != std::string::npos;
}

Status check_pair(const std::string& cert_pem, const std::string& key_pem, const DaemonOptions& o) {
  if (encrypted(key_pem)) {
    return error(ErrorCode::kInvalidArgument,
                 "--grpc-tls-key: " + o.grpc_tls_key +
                     " is encrypted with a passphrase, which tapstackd cannot ask for; give it "
                     "an unencrypted key (openssl pkey -in KEY -out PLAIN) kept readable only "
                     "to its user");
  }
  X509* cert = PEM_read_bio_X509(bio_of(cert_pem).get(), nullptr, nullptr, nullptr);
  if (!cert) {
    return error(ErrorCode::kInvalidArgument,
                 "--grpc-tls-cert: " + o.grpc_tls_cert + " holds no PEM certificate");
  }
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio_of(key_pem).get(), nullptr, no_passphrase, nullptr);
  Status status;
  if (!key) {
    status = error(ErrorCode::kInvalidArgument,
                   "--grpc-tls-key: " + o.grpc_tls_key + " holds no PEM private key");
  } else if (X509_check_private_key(cert, key) != 1) {
    status = error(
        ErrorCode::kInvalidArgument,
        "--grpc-tls-key " + o.grpc_tls_key + " does not match --grpc-tls-cert " + o.grpc_tls_cert);
  }
  EVP_PKEY_free(key);
  X509_free(cert);
  return status;
}

}  // namespace

Result<std::shared_ptr<grpc::ServerCredentials>> server_credentials(const DaemonOptions& o) {
  if (o.grpc_tls_cert.empty()) return grpc::InsecureServerCredentials();
  auto cert = read_file("--grpc-tls-cert", o.grpc_tls_cert);
  if (!cert.is_ok()) return cert.status();
  auto key = read_file("--grpc-tls-key", o.grpc_tls_key);
  if (!key.is_ok()) return key.status();
  if (Status s = check_pair(*cert, *key, o); !s.is_ok()) return s;

  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!o.grpc_client_ca.empty()) {
    auto ca = read_file("--grpc-client-ca", o.grpc_client_ca);
    if (!ca.is_ok()) return ca.status();
    X509* first = PEM_read_bio_X509(bio_of(*ca).get(), nullptr, nullptr, nullptr);
    if (!first) {
      return error(ErrorCode::kInvalidArgument,
                   "--grpc-client-ca: " + o.grpc_client_ca + " holds no PEM certificate");
    }
    X509_free(first);
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace tapstack::server
