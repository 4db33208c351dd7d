// A value or an errno-style error with a message: what context extraction and the
// specializer's API return (no exceptions anywhere in the project).
//
// The code is a positive errno value (ENETUNREACH, EHOSTUNREACH, ...), so callers that
// speak the socket API's language can return -error().code; the message says what
// exactly was missing, for people.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace quasi {

struct Error {
    int code = 0;  // a positive errno value
    std::string message;
};

template <class T>
class [[nodiscard]] Expected {
public:
    Expected(T value) : value_(std::move(value)) {}
    Expected(Error error) : error_(std::move(error)) {}

    explicit operator bool() const { return value_.has_value(); }
    bool has_value() const { return value_.has_value(); }

    T& value() & { return *value_; }
    const T& value() const& { return *value_; }
    T&& value() && { return std::move(*value_); }
    T& operator*() & { return *value_; }
    const T& operator*() const& { return *value_; }
    T* operator->() { return &*value_; }
    const T* operator->() const { return &*value_; }

    // Meaningful only when !has_value().
    const Error& error() const& { return error_; }
    Error&& error() && { return std::move(error_); }

private:
    std::optional<T> value_;
    Error error_;
};

inline Error make_error(int code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace quasi
