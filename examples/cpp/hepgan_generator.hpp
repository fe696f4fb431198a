// hepgan_generator.hpp: runs hepgan generators exported as lwtnn JSON
// (`hepgan export RUN --format lwtnn --out g.json`). C++17, standard library only.
//
//   hepgan::Generator gen("g.json");
//   std::vector<float> z(gen.latent_dim());          // the caller samples z ~ N(0, 1)
//   std::vector<double> cond = {energy_mev, ...};     // gen.condition_names() / condition_widths()
//   std::vector<double> cells = gen.generate(z, cond); // MeV (or pixels 0..255 for image models)
//
// The forward pass is the one of hepgan's NumPy runtime (src/hepgan/export/runtime.py) and of
// its head stages (src/hepgan/export/head.py, image_layers.py, layered_head.py): network
// and head in float, as torch runs them, the inverse preprocessing in double. A Generator is not thread-safe, but copies
// share the (immutable) weights and each has its own buffers: use one copy per thread.
#ifndef HEPGAN_GENERATOR_HPP
#define HEPGAN_GENERATOR_HPP

#include <algorithm>
#include <clocale>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <locale>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>
#if defined(__has_include)
#if __has_include(<charconv>)
#include <charconv>
#endif
#endif

namespace hepgan {

// ------------------------------------------------------------------------------------- JSON

namespace json {

enum class Type { null, boolean, number, string, array, object };

// A parsed JSON value. An array of numbers only keeps them in `numbers`: weights are most of a
// file, and a Value per weight would take ten times the memory.
struct Value {
    Type type = Type::null;
    bool flag = false;
    double number = 0.0;
    std::string text;
    std::vector<double> numbers;     // an array whose elements are all numbers
    std::vector<Value> items;        // any other array
    std::vector<std::string> keys;   // object members, in file order
    std::vector<Value> values;

    bool is_null() const { return type == Type::null; }
    bool is_number() const { return type == Type::number; }
    bool is_array() const { return type == Type::array; }
    bool is_object() const { return type == Type::object; }
    bool is_numeric_array() const { return type == Type::array && items.empty(); }
    std::size_t size() const { return items.empty() ? numbers.size() : items.size(); }
    const Value* find(const std::string& key) const {
        for (std::size_t i = 0; i < keys.size(); ++i)
            if (keys[i] == key) return &values[i];
        return nullptr;
    }
};

class Parser {
public:
    Parser(const char* begin, const char* end) : begin_(begin), p_(begin), end_(end) {}

    Value document() {
        skip_space();
        Value v = value(0);
        skip_space();
        if (p_ != end_) fail("unexpected text after the JSON value");
        return v;
    }

private:
    const char* begin_;
    const char* p_;
    const char* end_;

    [[noreturn]] void fail(const std::string& what) const {
        std::size_t line = 1, column = 1;
        for (const char* q = begin_; q < p_; ++q) {
            if (*q == '\n') { ++line; column = 1; } else { ++column; }
        }
        throw std::runtime_error("not valid JSON (" + what + " at line " + std::to_string(line) + ", column " +
                                 std::to_string(column) + "; truncated or corrupt?)");
    }

    void skip_space() {
        while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }

    bool literal(const char* word) {
        const char* q = p_;
        for (; *word; ++word, ++q)
            if (q == end_ || *q != *word) return false;
        p_ = q;
        return true;
    }

    Value value(int depth) {
        if (depth > 64) fail("nesting deeper than 64 levels");
        if (p_ == end_) fail("unexpected end of file");
        Value v;
        const char c = *p_;
        if (c == '{') {
            v.type = Type::object;
            ++p_;
            skip_space();
            if (p_ != end_ && *p_ == '}') { ++p_; return v; }
            for (;;) {
                skip_space();
                if (p_ == end_ || *p_ != '"') fail("expected a member name");
                v.keys.push_back(string());
                skip_space();
                if (p_ == end_ || *p_ != ':') fail("expected ':'");
                ++p_;
                skip_space();
                v.values.push_back(value(depth + 1));
                skip_space();
                if (p_ != end_ && *p_ == ',') { ++p_; continue; }
                if (p_ != end_ && *p_ == '}') { ++p_; return v; }
                fail("expected ',' or '}'");
            }
        }
        if (c == '[') {
            v.type = Type::array;
            ++p_;
            skip_space();
            if (p_ != end_ && *p_ == ']') { ++p_; return v; }
            for (;;) {
                skip_space();
                if (p_ == end_) fail("unexpected end of file");
                if (v.items.empty() && (*p_ == '-' || (*p_ >= '0' && *p_ <= '9'))) {
                    v.numbers.push_back(number());
                } else {
                    if (v.items.empty()) {  // the first non-number: the numbers so far become items
                        for (double x : v.numbers) {
                            Value n;
                            n.type = Type::number;
                            n.number = x;
                            v.items.push_back(n);
                        }
                        v.numbers.clear();
                    }
                    v.items.push_back(value(depth + 1));
                }
                skip_space();
                if (p_ != end_ && *p_ == ',') { ++p_; continue; }
                if (p_ != end_ && *p_ == ']') { ++p_; return v; }
                fail("expected ',' or ']'");
            }
        }
        if (c == '"') {
            v.type = Type::string;
            v.text = string();
            return v;
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            v.type = Type::number;
            v.number = number();
            return v;
        }
        if (literal("true")) { v.type = Type::boolean; v.flag = true; return v; }
        if (literal("false")) { v.type = Type::boolean; return v; }
        if (literal("null")) return v;
        fail(std::string("unexpected character '") + c + "'");
    }

    static bool digit(char c) { return c >= '0' && c <= '9'; }

    double number() {
        const char* start = p_;
        if (p_ != end_ && *p_ == '-') ++p_;
        if (p_ == end_ || !digit(*p_)) fail("expected a digit");
        if (*p_ == '0') ++p_; else while (p_ != end_ && digit(*p_)) ++p_;
        if (p_ != end_ && *p_ == '.') {
            ++p_;
            if (p_ == end_ || !digit(*p_)) fail("expected a digit after '.'");
            while (p_ != end_ && digit(*p_)) ++p_;
        }
        if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
            ++p_;
            if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
            if (p_ == end_ || !digit(*p_)) fail("expected a digit in the exponent");
            while (p_ != end_ && digit(*p_)) ++p_;
        }
        double x = 0.0;
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
        const std::from_chars_result r = std::from_chars(start, p_, x);
        if (r.ec != std::errc() || r.ptr != p_) fail("number out of range");
#else
        std::string digits(start, p_);  // strtod reads the locale's decimal point
        const char point = *std::localeconv()->decimal_point;
        if (point != '.') std::replace(digits.begin(), digits.end(), '.', point);
        char* stop = nullptr;
        x = std::strtod(digits.c_str(), &stop);
        if (stop != digits.c_str() + digits.size() || !std::isfinite(x)) fail("number out of range");
#endif
        return x;
    }

    void append_utf8(std::string& out, unsigned long cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    unsigned long hex4() {
        unsigned long cp = 0;
        for (int i = 0; i < 4; ++i, ++p_) {
            if (p_ == end_) fail("unexpected end of file in a \\u escape");
            const char c = *p_;
            cp <<= 4;
            if (digit(c)) cp |= static_cast<unsigned long>(c - '0');
            else if (c >= 'a' && c <= 'f') cp |= static_cast<unsigned long>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') cp |= static_cast<unsigned long>(c - 'A' + 10);
            else fail("bad \\u escape");
        }
        return cp;
    }

    std::string string() {
        ++p_;  // the opening quote
        std::string out;
        for (;;) {
            if (p_ == end_) fail("unterminated string");
            const char c = *p_++;
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
            if (c != '\\') { out += c; continue; }
            if (p_ == end_) fail("unterminated string");
            const char e = *p_++;
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    unsigned long cp = hex4();
                    if (cp >= 0xD800 && cp < 0xDC00 && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
                        p_ += 2;
                        const unsigned long low = hex4();
                        if (low < 0xDC00 || low >= 0xE000) fail("bad surrogate pair");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    }
                    append_utf8(out, cp);
                    break;
                }
                default: fail("bad escape in a string");
            }
        }
    }
};

inline Value parse(const std::string& text) { return Parser(text.data(), text.data() + text.size()).document(); }

}  // namespace json

// ------------------------------------------------------------------------------- internals

namespace detail {

constexpr std::size_t kBlock = 8;  // dense outputs are padded to whole blocks of this many floats

inline std::size_t padded(std::size_t n) { return (n + kBlock - 1) / kBlock * kBlock; }

inline std::string text(double x) {
    std::ostringstream s;
    s.imbue(std::locale::classic());
    s << x;
    return s.str();
}

inline std::string quoted(const json::Value& v) {
    switch (v.type) {
        case json::Type::string: return "'" + v.text + "'";
        case json::Type::null: return "null";
        case json::Type::number: return text(v.number);
        case json::Type::boolean: return v.flag ? "true" : "false";
        default: return v.is_array() ? "a list" : "an object";
    }
}

// Reads typed values out of a JSON tree; every error names the file and where in it.
struct Reader {
    std::string source;
    std::string where;  // e.g. "head stage 2 (shower_features)"; empty at the top level

    [[noreturn]] void fail(const std::string& problem) const {
        throw std::runtime_error(source + ": " + (where.empty() ? problem : where + ": " + problem));
    }
    Reader at(const std::string& place) const { return Reader{source, place}; }

    const json::Value& get(const json::Value& object, const std::string& key) const {
        const json::Value* v = object.is_object() ? object.find(key) : nullptr;
        if (v == nullptr) fail("missing key '" + key + "'");
        return *v;
    }
    double number(const json::Value& v, const std::string& what) const {
        if (!v.is_number()) fail(what + " must be a number, got " + quoted(v));
        return v.number;
    }
    long integer(const json::Value& v, const std::string& what) const {
        const double x = number(v, what);
        if (x != std::floor(x) || std::fabs(x) > 1e15) fail(what + " must be an integer, got " + quoted(v));
        return static_cast<long>(x);
    }
    std::size_t count(const json::Value& v, const std::string& what) const {
        const long n = integer(v, what);
        if (n < 0) fail(what + " must not be negative, got " + quoted(v));
        return static_cast<std::size_t>(n);
    }
    std::string string(const json::Value& v, const std::string& what) const {
        if (v.type != json::Type::string) fail(what + " must be a string, got " + quoted(v));
        return v.text;
    }
    std::vector<double> doubles(const json::Value& v, const std::string& what) const {
        if (!v.is_numeric_array()) fail(what + " must be a list of numbers");
        return v.numbers;
    }
    std::vector<float> floats(const json::Value& v, const std::string& what) const {
        const std::vector<double> d = doubles(v, what);
        return std::vector<float>(d.begin(), d.end());
    }
    // A list of equally long lists of numbers, row-major; `cols` gets the row length.
    std::vector<float> matrix(const json::Value& v, const std::string& what, std::size_t& rows, std::size_t& cols) const {
        if (!v.is_array() || v.items.empty()) fail(what + " must be a matrix (a list of rows of numbers)");
        rows = v.items.size();
        cols = v.items[0].size();
        std::vector<float> out;
        out.reserve(rows * cols);
        for (const json::Value& row : v.items) {
            if (!row.is_numeric_array() || row.size() != cols)
                fail(what + " must be a matrix (a list of equally long rows of numbers)");
            out.insert(out.end(), row.numbers.begin(), row.numbers.end());
        }
        return out;
    }
    // A list of matrices of one shape (d0, d1, d2), flattened.
    std::vector<float> tensor3(const json::Value& v, const std::string& what, std::size_t& d0, std::size_t& d1,
                               std::size_t& d2) const {
        if (!v.is_array() || v.items.empty()) fail(what + " must be a list of matrices");
        d0 = v.items.size();
        std::vector<float> out;
        for (std::size_t i = 0; i < d0; ++i) {
            std::size_t r = 0, c = 0;
            const std::vector<float> m = matrix(v.items[i], what + "[" + std::to_string(i) + "]", r, c);
            if (i == 0) { d1 = r; d2 = c; }
            if (r != d1 || c != d2) fail(what + " must be a list of matrices of one shape");
            out.insert(out.end(), m.begin(), m.end());
        }
        return out;
    }
    // A nested list of numbers of `rank` dimensions (rank >= 1), none of them empty, flattened
    // row-major; `dims` gets its shape.
    std::vector<float> tensor(const json::Value& v, const std::string& what, std::size_t rank,
                              std::vector<std::size_t>& dims) const {
        dims.clear();
        const json::Value* p = &v;
        for (std::size_t d = 0; d < rank; ++d) {  // the shape, along the first element
            const bool last = d + 1 == rank;
            if (!p->is_array() || p->size() == 0 || (last ? !p->is_numeric_array() : p->items.empty()))
                fail(what + " must be a list of " + std::to_string(rank) + " dimensions of numbers");
            dims.push_back(p->size());
            if (!last) p = &p->items[0];
        }
        std::vector<float> out;
        out.reserve(total(dims));
        flatten(v, 0, dims, what, out);
        return out;
    }
    static std::size_t total(const std::vector<std::size_t>& dims) {
        std::size_t n = 1;
        for (std::size_t d : dims) n *= d;
        return n;
    }
    void flatten(const json::Value& v, std::size_t d, const std::vector<std::size_t>& dims, const std::string& what,
                 std::vector<float>& out) const {
        const bool last = d + 1 == dims.size();
        if (!v.is_array() || v.size() != dims[d] || (last ? !v.is_numeric_array() : v.items.size() != dims[d]))
            fail(what + " must be a list of " + std::to_string(dims.size()) + " dimensions of numbers, every row as "
                 "long as the others");
        if (last) out.insert(out.end(), v.numbers.begin(), v.numbers.end());
        else for (const json::Value& item : v.items) flatten(item, d + 1, dims, what, out);
    }
    // [a, b] of non-negative integers (a convolution's stride, padding), each at least `least`.
    std::pair<std::size_t, std::size_t> pair(const json::Value& v, const std::string& what, std::size_t least) const {
        const std::vector<double> d = doubles(v, what);
        if (d.size() != 2 || d[0] != std::floor(d[0]) || d[1] != std::floor(d[1]) || d[0] < static_cast<double>(least) ||
            d[1] < static_cast<double>(least) || d[0] > 1e6 || d[1] > 1e6)
            fail(what + " must be two integers of at least " + std::to_string(least));
        return {static_cast<std::size_t>(d[0]), static_cast<std::size_t>(d[1])};
    }
    // [[begin, end], ...] cell ranges of the layers: contiguous from cell 0.
    std::vector<std::size_t> layer_bounds(const json::Value& v, const std::string& what) const {
        if (!v.is_array() || v.items.empty()) fail(what + " must be a list of [first, end] cell ranges");
        std::vector<std::size_t> bounds{0};
        for (const json::Value& r : v.items) {
            if (!r.is_numeric_array() || r.size() != 2) fail(what + " must be a list of [first, end] cell ranges");
            if (r.numbers[0] != static_cast<double>(bounds.back()) || r.numbers[1] <= r.numbers[0] ||
                r.numbers[1] != std::floor(r.numbers[1]))
                fail(what + ": the layers must be contiguous, non-empty cell ranges starting at cell 0");
            bounds.push_back(static_cast<std::size_t>(r.numbers[1]));
        }
        return bounds;
    }
    std::vector<std::size_t> indices(const json::Value& v, const std::string& what, std::size_t limit) const {
        const std::vector<double> d = doubles(v, what);
        std::vector<std::size_t> out;
        for (double x : d) {
            if (x < 0 || x != std::floor(x) || x >= static_cast<double>(limit))
                fail(what + " must hold layer numbers below " + std::to_string(limit));
            const std::size_t i = static_cast<std::size_t>(x);
            if (std::find(out.begin(), out.end(), i) != out.end()) fail(what + " repeats layer " + std::to_string(i));
            out.push_back(i);
        }
        return out;
    }
};

// ------------------------------------------------------------------------------- network

enum class Act { linear, rectified, sigmoid, tanh, leakyrelu, elu, swish };

inline void activate(Act act, float alpha, float* x, std::size_t n) {
    switch (act) {
        case Act::linear: return;
        case Act::rectified: for (std::size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f; return;
        case Act::sigmoid: for (std::size_t i = 0; i < n; ++i) x[i] = 1.0f / (1.0f + std::exp(-x[i])); return;
        case Act::tanh: for (std::size_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]); return;
        case Act::leakyrelu: for (std::size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : x[i] * alpha; return;
        case Act::elu: for (std::size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : alpha * std::expm1(x[i]); return;
        case Act::swish:  // x sigmoid(alpha x); exp overflowing to inf gives -0, as it should
            for (std::size_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-alpha * x[i]));
            return;
    }
}

inline Act read_activation(const json::Value& a, const Reader& r, float& alpha) {
    std::string name;
    alpha = 1.0f;
    if (a.is_object()) {
        const json::Value* f = a.find("function");
        name = f != nullptr && f->type == json::Type::string ? f->text : (f == nullptr ? "" : quoted(*f));
        if (const json::Value* al = a.find("alpha")) alpha = static_cast<float>(r.number(*al, "activation alpha"));
    } else if (a.type == json::Type::string) {
        name = a.text;
    } else {
        name = quoted(a);
    }
    if (name == "linear") return Act::linear;
    if (name == "rectified") return Act::rectified;
    if (name == "sigmoid") return Act::sigmoid;
    if (name == "tanh") return Act::tanh;
    if (name == "leakyrelu") return Act::leakyrelu;
    if (name == "elu") return Act::elu;
    if (name == "swish") return Act::swish;
    r.fail("activation '" + name + "' is not supported (linear, rectified, sigmoid, tanh, leakyrelu, elu, swish)");
}

enum class OutAct { none, softplus, exp, abs, softsign, gauss };

inline void output_activate(OutAct act, float* x, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const float v = x[i];
        switch (act) {
            case OutAct::none: return;
            case OutAct::softplus: x[i] = v > 20.0f ? v : std::log1p(std::exp(v)); break;  // torch's threshold
            case OutAct::exp: x[i] = std::exp(v); break;
            case OutAct::abs: x[i] = std::fabs(v); break;
            case OutAct::softsign: x[i] = v / (1.0f + std::fabs(v)); break;
            case OutAct::gauss: x[i] = std::exp(-v * v); break;
        }
    }
}

struct Layer {
    bool normalization = false;
    std::size_t n_in = 0, n_out = 0, stride = 0;  // stride: n_out padded to whole blocks
    std::vector<float> weights;  // dense: the (in, stride) transpose of lwtnn's (out, in); normalization: scale
    std::vector<float> bias;     // dense: padded to stride with zeros; normalization: offset
    Act act = Act::linear;
    float alpha = 1.0f;
};

// y = x W^T + b, then the activation. W is stored transposed, so the inner loops run over
// contiguous outputs, in fixed blocks that compilers vectorise at -O2 without -ffast-math;
// four inputs per pass over y halve the memory traffic. Each output still adds its terms in
// input order, in float, as torch does. With `rows` > 1, rows of x (x_stride apart) go to rows of
// y (y_stride >= layer.stride apart), each block of weights used by every row while in cache.
inline void run_layer(const Layer& layer, const float* x, float* y, std::size_t rows = 1, std::size_t x_stride = 0,
                      std::size_t y_stride = 0) {
    if (layer.normalization) {
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t i = 0; i < layer.n_out; ++i)
                y[r * y_stride + i] = (x[r * x_stride + i] + layer.bias[i]) * layer.weights[i];
        return;
    }
    if (layer.weights.empty()) {
        for (std::size_t r = 0; r < rows; ++r) std::copy(x + r * x_stride, x + r * x_stride + layer.n_out, y + r * y_stride);
    } else {
        const std::size_t stride = layer.stride, n_in = layer.n_in;
        for (std::size_t r = 0; r < rows; ++r) std::copy(layer.bias.begin(), layer.bias.end(), y + r * y_stride);
        std::size_t i = 0;
        for (; i + 4 <= n_in; i += 4) {
            const float* w0 = layer.weights.data() + i * stride;
            const float* w1 = w0 + stride;
            const float* w2 = w1 + stride;
            const float* w3 = w2 + stride;
            for (std::size_t r = 0; r < rows; ++r) {
                const float* xr = x + r * x_stride;
                float* yr = y + r * y_stride;
                const float x0 = xr[i], x1 = xr[i + 1], x2 = xr[i + 2], x3 = xr[i + 3];
                for (std::size_t j = 0; j < stride; j += kBlock) {
                    float t[kBlock];
                    for (std::size_t k = 0; k < kBlock; ++k)
                        t[k] = (((yr[j + k] + x0 * w0[j + k]) + x1 * w1[j + k]) + x2 * w2[j + k]) + x3 * w3[j + k];
                    for (std::size_t k = 0; k < kBlock; ++k) yr[j + k] = t[k];
                }
            }
        }
        for (; i < n_in; ++i) {
            const float* w = layer.weights.data() + i * stride;
            for (std::size_t r = 0; r < rows; ++r) {
                const float xi = x[r * x_stride + i];
                float* yr = y + r * y_stride;
                for (std::size_t j = 0; j < stride; j += kBlock) {
                    float t[kBlock];
                    for (std::size_t k = 0; k < kBlock; ++k) t[k] = yr[j + k] + xi * w[j + k];
                    for (std::size_t k = 0; k < kBlock; ++k) yr[j + k] = t[k];
                }
            }
        }
    }
    for (std::size_t r = 0; r < rows; ++r) activate(layer.act, layer.alpha, y + r * y_stride, layer.n_out);
}

// lwtnn's sequential layers (dense, normalization) on `width` values: the network of every file
// and the layered family's shape network. `width` becomes the last layer's width, `widest` the
// largest padded width on the way; `place` names layer i in errors (e.g. "layer 3").
inline std::vector<Layer> read_layers(const json::Value& layers, const Reader& r, const std::string& place,
                                      std::size_t& width, std::size_t& widest) {
    if (!layers.is_array() || !layers.numbers.empty()) r.fail("'layers' must be a list of layers");
    std::vector<Layer> out;
    widest = std::max(widest, padded(width));
    for (std::size_t i = 0; i < layers.items.size(); ++i) {
        const json::Value& d = layers.items[i];
        const Reader rl = r.at(place + std::to_string(i));
        if (!d.is_object()) rl.fail("not an object");
        const json::Value* arch = d.find("architecture");
        const std::string architecture = arch != nullptr && arch->type == json::Type::string ? arch->text : "";
        const json::Value* wv = d.find("weights");
        const json::Value* bv = d.find("bias");
        const std::vector<double> weights = wv == nullptr ? std::vector<double>() : rl.doubles(*wv, "weights");
        const std::vector<double> bias = bv == nullptr ? std::vector<double>() : rl.doubles(*bv, "bias");
        Layer layer;
        if (architecture == "normalization") {
            if (weights.size() != bias.size()) rl.fail("normalization weights and bias must be lists of one length");
            if (weights.size() != width)
                rl.fail("normalization of " + std::to_string(weights.size()) + " values after a layer of " + std::to_string(width));
            layer.normalization = true;
            layer.n_in = layer.n_out = width;
            layer.weights.assign(weights.begin(), weights.end());
            layer.bias.assign(bias.begin(), bias.end());
        } else if (architecture == "dense") {
            const json::Value* act = d.find("activation");
            layer.act = act == nullptr ? Act::linear : read_activation(*act, rl, layer.alpha);
            if (weights.empty()) {  // an activation on its own
                layer.n_in = layer.n_out = width;
            } else {
                if (bias.empty() || weights.size() % bias.size() != 0)
                    rl.fail(std::to_string(weights.size()) + " weights do not fit " + std::to_string(bias.size()) + " biases");
                layer.n_out = bias.size();
                layer.n_in = weights.size() / bias.size();
                if (layer.n_in != width)
                    rl.fail("weights take " + std::to_string(layer.n_in) + " inputs but the previous layer gives " +
                            std::to_string(width));
                layer.stride = padded(layer.n_out);
                layer.weights.assign(layer.n_in * layer.stride, 0.0f);
                for (std::size_t o = 0; o < layer.n_out; ++o)
                    for (std::size_t k = 0; k < layer.n_in; ++k)
                        layer.weights[k * layer.stride + o] = static_cast<float>(weights[o * layer.n_in + k]);
                layer.bias.assign(layer.stride, 0.0f);
                std::copy(bias.begin(), bias.end(), layer.bias.begin());
            }
        } else {
            rl.fail("architecture " + (arch == nullptr ? std::string("(none)") : quoted(*arch)) +
                    " is not supported (dense, normalization)");
        }
        width = layer.n_out;
        widest = std::max(widest, padded(width));
        out.push_back(std::move(layer));
    }
    return out;
}

// -------------------------------------------------------------------- calorimeter head

// Sums in double, rounded once to float: the correctly rounded float sum, which is within an
// ulp or so of whatever order torch and NumPy add in.
inline float fsum(const float* x, std::size_t n) {
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i) s += x[i];
    return static_cast<float>(s);
}

// out (cols) = b (rows) @ m (rows, cols), skipping the basis functions that are zero.
inline void basis_product(const float* b, const std::vector<float>& m, std::size_t rows, std::size_t cols, float* out) {
    std::fill(out, out + cols, 0.0f);
    for (std::size_t r = 0; r < rows; ++r) {
        const float br = b[r];
        if (br == 0.0f) continue;
        const float* row = m.data() + r * cols;
        for (std::size_t j = 0; j < cols; ++j) out[j] += br * row[j];
    }
}

// The conditions' basis: [1, c_j, c_j^p continuous_j (p = 2..degree), hats of each splined c_j].
struct Basis {
    std::size_t dim = 0, knots = 0;
    int degree = 1;
    std::vector<float> continuous, lo, step;
    std::vector<std::size_t> splined;  // condition columns with hats

    Basis() = default;
    Basis(const json::Value& d, const Reader& r) {
        degree = static_cast<int>(r.integer(r.get(d, "degree"), "basis.degree"));
        knots = r.count(r.get(d, "knots"), "basis.knots");
        continuous = r.floats(r.get(d, "continuous"), "basis.continuous");
        dim = continuous.size();
        const std::vector<float> mask = r.floats(r.get(d, "splined"), "basis.splined");
        const std::vector<float> lo_all = r.floats(r.get(d, "knot_lo"), "basis.knot_lo");
        const std::vector<float> step_all = r.floats(r.get(d, "knot_step"), "basis.knot_step");
        if (mask.size() != dim || lo_all.size() != dim || step_all.size() != dim)
            r.fail("basis: continuous, splined, knot_lo and knot_step must have one length");
        for (std::size_t j = 0; j < dim; ++j) {
            if (mask[j] > 0.0f) {
                splined.push_back(j);
                lo.push_back(lo_all[j]);
                step.push_back(step_all[j]);
            }
        }
    }
    std::size_t rows() const {
        return 1 + dim + (degree > 1 ? static_cast<std::size_t>(degree - 1) * dim : 0) +
               (knots ? knots * splined.size() : 0);
    }
    // Checks that a coefficient matrix of `n_rows` rows fits conditions of `n_cond` values.
    void check(std::size_t n_rows, std::size_t n_cond, const Reader& r, const std::string& what) const {
        if (n_rows == 1) return;  // unconditional: the constant only
        if (dim != n_cond)
            r.fail("basis of " + std::to_string(dim) + " conditions but the network takes " + std::to_string(n_cond));
        if (n_rows != rows())
            r.fail(what + " has " + std::to_string(n_rows) + " rows but the basis has " + std::to_string(rows()));
    }
    void eval(const float* c, std::size_t n_rows, float* b) const {
        b[0] = 1.0f;
        if (n_rows == 1) return;
        std::size_t k = 1;
        for (std::size_t j = 0; j < dim; ++j) b[k++] = c[j];
        for (int p = 2; p <= degree; ++p)
            for (std::size_t j = 0; j < dim; ++j)
                b[k++] = (p == 2 ? c[j] * c[j] : std::pow(c[j], static_cast<float>(p))) * continuous[j];
        if (!knots) return;
        for (std::size_t s = 0; s < splined.size(); ++s) {
            const float top = lo[s] + step[s] * static_cast<float>(knots - 1);
            const float clipped = std::min(std::max(c[splined[s]], lo[s]), top);
            for (std::size_t h = 0; h < knots; ++h) {
                const float centre = lo[s] + step[s] * static_cast<float>(h);
                b[k++] = std::max(1.0f - std::fabs((clipped - centre) / step[s]), 0.0f);
            }
        }
    }
};

// A softmax whose shares not above t are set to 0 (unless the largest), renormalised.
inline void shares(const float* logits, std::size_t n, float t, float* out) {
    float top = logits[0];
    for (std::size_t i = 1; i < n; ++i) top = std::max(top, logits[i]);
    for (std::size_t i = 0; i < n; ++i) out[i] = std::exp(logits[i] - top);
    const float total = fsum(out, n);
    float largest = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = out[i] / total;
        largest = std::max(largest, out[i]);
    }
    for (std::size_t i = 0; i < n; ++i)
        if (!(out[i] > t || out[i] >= largest)) out[i] = 0.0f;
    const float kept = fsum(out, n);
    for (std::size_t i = 0; i < n; ++i) out[i] = out[i] / kept;
}

// What every head stage sees: the network's latent size, the encoded conditions' count, and
// the cells' layer ranges once a shower_features stage has set them.
struct HeadContext {
    std::size_t network_latent = 0, latent_dim = 0, n_cond = 0, width = 0;
    std::vector<std::size_t> layer_bounds;
};

class Stage {
public:
    virtual ~Stage() = default;
    std::size_t out_width = 0, work_size = 0;
    // out <- stage(in); z the caller's whole latent vector, c the encoded conditions.
    virtual void run(const float* in, float* out, const float* z, const float* c, float* work) const = 0;
};

class GaussianPath : public Stage {
    std::vector<float> m_;  // (k, k)
    std::size_t k_ = 0, first_z_ = 0, width_ = 0;

public:
    GaussianPath(const json::Value& d, const Reader& r, HeadContext& h) {
        std::size_t rows = 0, cols = 0;
        m_ = r.matrix(r.get(d, "matrix"), "matrix", rows, cols);
        if (rows != cols || rows > h.network_latent || rows > h.width)
            r.fail("matrix must be square and no larger than the network's latent size and output");
        k_ = rows;
        first_z_ = h.network_latent - k_;
        width_ = out_width = h.width;
    }
    void run(const float* in, float* out, const float* z, const float*, float*) const override {
        std::copy(in, in + width_, out);
        for (std::size_t i = 0; i < k_; ++i) {
            double s = 0.0;
            for (std::size_t j = 0; j < k_; ++j) s += static_cast<double>(z[first_z_ + j] * m_[i * k_ + j]);
            out[i] += static_cast<float>(s);
        }
    }
};

class CellNoise : public Stage {
    std::vector<float> scale_;
    std::size_t first_ = 0, start_ = 0, width_ = 0;

public:
    CellNoise(const json::Value& d, const Reader& r, HeadContext& h) {
        scale_ = r.floats(r.get(d, "scale"), "scale");
        first_ = r.count(r.get(d, "first"), "first");
        const json::Value& noise = r.get(d, "noise");
        if (!noise.is_numeric_array() || noise.size() != 2) r.fail("noise must be [first, count]");
        if (noise.numbers[0] < 0 || noise.numbers[0] != std::floor(noise.numbers[0])) r.fail("noise must be [first, count]");
        start_ = h.network_latent + static_cast<std::size_t>(noise.numbers[0]);
        width_ = out_width = h.width;
        if (first_ + scale_.size() != width_)
            r.fail("the noise scales do not fit the network's " + std::to_string(width_) + " outputs");
        if (start_ + scale_.size() > h.latent_dim) r.fail("the noise needs more latent values than the model has");
    }
    void run(const float* in, float* out, const float* z, const float*, float*) const override {
        std::copy(in, in + width_, out);
        for (std::size_t i = 0; i < scale_.size(); ++i) out[first_ + i] += z[start_ + i] * scale_[i];
    }
};

class ShowerFeatures : public Stage {
    Basis basis_;
    std::vector<float> mean_, log_var_, log_eps_, min_std_, raw_min_, raw_max_;
    std::vector<std::size_t> bounds_;
    std::vector<bool> unthresholded_;
    std::size_t n_rows_ = 0, n_features_ = 0, n_layers_ = 0;
    float layer_floor_ = 0, empty_below_ = 0, eps_lo_ = 0, eps_hi_ = 0;

public:
    ShowerFeatures(const json::Value& d, const Reader& r, HeadContext& h) {
        bounds_ = r.layer_bounds(r.get(d, "layers"), "layers");
        n_layers_ = bounds_.size() - 1;
        const std::size_t n_cells = bounds_.back();
        n_features_ = 1 + n_layers_ + n_cells;
        if (h.width != n_features_)
            r.fail("the network gives " + std::to_string(h.width) + " features but " + std::to_string(n_layers_) +
                   " layers of " + std::to_string(n_cells) + " cells need " + std::to_string(n_features_));
        basis_ = Basis(r.get(d, "basis"), r);
        std::size_t rows = 0, cols = 0;
        mean_ = r.matrix(r.get(d, "mean"), "mean", n_rows_, cols);
        if (cols != n_features_) r.fail("mean must have a column per feature");
        log_var_ = r.matrix(r.get(d, "log_var"), "log_var", rows, cols);
        if (rows != n_rows_ || cols != n_features_) r.fail("log_var must have the shape of mean");
        log_eps_ = r.matrix(r.get(d, "log_eps"), "log_eps", rows, cols);
        if (rows != n_rows_ || cols != n_layers_) r.fail("log_eps must have mean's rows and a column per layer");
        basis_.check(n_rows_, h.n_cond, r, "mean");
        min_std_ = r.floats(r.get(d, "min_std"), "min_std");
        raw_max_ = r.floats(r.get(d, "raw_max"), "raw_max");
        const json::Value& raw_min = r.get(d, "raw_min");
        if (!raw_min.is_array()) r.fail("raw_min must be a list of numbers and nulls");
        for (std::size_t i = 0; i < raw_min.size(); ++i) {
            const json::Value* v = raw_min.items.empty() ? nullptr : &raw_min.items[i];
            if (v != nullptr && !v->is_null() && !v->is_number()) r.fail("raw_min must be a list of numbers and nulls");
            raw_min_.push_back(v == nullptr ? static_cast<float>(raw_min.numbers[i])
                               : v->is_null() ? -std::numeric_limits<float>::infinity()
                                              : static_cast<float>(v->number));
        }
        if (min_std_.size() != n_features_ || raw_max_.size() != n_features_ || raw_min_.size() != n_features_)
            r.fail("min_std, raw_min and raw_max must have a value per feature");
        unthresholded_.assign(n_layers_, false);
        for (std::size_t l : r.indices(r.get(d, "unthresholded"), "unthresholded", n_layers_)) unthresholded_[l] = true;
        const double eps_layer = r.number(r.get(d, "eps_layer"), "eps_layer");
        const double empty_below = r.number(r.get(d, "empty_below"), "empty_below");
        layer_floor_ = static_cast<float>(eps_layer * empty_below);
        empty_below_ = static_cast<float>(empty_below);
        const std::vector<float> range = r.floats(r.get(d, "eps_range"), "eps_range");
        if (range.size() != 2) r.fail("eps_range must be [low, high]");
        eps_lo_ = range[0];
        eps_hi_ = range[1];
        h.layer_bounds = bounds_;
        out_width = h.width = n_cells;
        // basis, then raw features (mean's product, reused), widths, per-layer thresholds, shares
        work_size = n_rows_ + 2 * n_features_ + 2 * n_layers_ + n_cells;
    }
    void run(const float* v, float* out, const float*, const float* c, float* work) const override {
        float* b = work;
        float* raw = b + n_rows_;
        float* width = raw + n_features_;
        float* empty = width + n_features_;
        float* fractions = empty + n_layers_;
        float* share = fractions + n_layers_;
        basis_.eval(c, n_rows_, b);
        basis_product(b, mean_, n_rows_, n_features_, raw);
        basis_product(b, log_var_, n_rows_, n_features_, width);
        for (std::size_t f = 0; f < n_features_; ++f) {
            const float w = std::max(std::exp(0.5f * width[f]), min_std_[f]);
            raw[f] = std::min(std::max(raw[f] + w * v[f], raw_min_[f]), raw_max_[f]);
        }
        const float response = std::exp(raw[0]);
        shares(raw + 1, n_layers_, layer_floor_, fractions);
        basis_product(b, log_eps_, n_rows_, n_layers_, empty);
        for (std::size_t l = 0; l < n_layers_; ++l)
            empty[l] = std::min(std::max(std::exp(empty[l]), eps_lo_), eps_hi_) * empty_below_;
        for (std::size_t l = 0; l < n_layers_; ++l) {
            const std::size_t a = bounds_[l], n = bounds_[l + 1] - a;
            shares(raw + 1 + n_layers_ + a, n, unthresholded_[l] ? 0.0f : empty[l], share);
            for (std::size_t i = 0; i < n; ++i) out[a + i] = response * (share[i] * fractions[l]);
        }
    }
};

// Each cell fluctuates by its layer's energy quantum; see hepgan.models.calo.fluctuations.
class CellFluctuations : public Stage {
    Basis basis_;
    std::vector<float> log_smallest_, scale_, spread_, s_layer_, exponent_;
    std::vector<std::size_t> bounds_, layer_of_;
    std::vector<long> fluct_noise_, deposit_noise_;  // per cell: index into the noise, -1 for none
    std::size_t n_rows_ = 0, n_layers_ = 0, n_cells_ = 0, start_ = 0;
    bool gamma_ = false, above_ = false, any_deposits_ = false;
    float floor_ = 0, size_ = 0;

public:
    CellFluctuations(const json::Value& d, const Reader& r, HeadContext& h) {
        bounds_ = r.layer_bounds(r.get(d, "layers"), "layers");
        n_layers_ = bounds_.size() - 1;
        n_cells_ = bounds_.back();
        if (h.width != n_cells_)
            r.fail("takes " + std::to_string(n_cells_) + " cells but the stage before gives " + std::to_string(h.width));
        for (std::size_t l = 0; l < n_layers_; ++l) layer_of_.insert(layer_of_.end(), bounds_[l + 1] - bounds_[l], l);
        basis_ = Basis(r.get(d, "basis"), r);
        std::size_t cols = 0;
        log_smallest_ = r.matrix(r.get(d, "log_smallest"), "log_smallest", n_rows_, cols);
        if (cols != n_layers_) r.fail("log_smallest must have a column per layer");
        basis_.check(n_rows_, h.n_cond, r, "log_smallest");
        scale_ = r.floats(r.get(d, "scale"), "scale");
        spread_ = r.floats(r.get(d, "deposit_spread"), "deposit_spread");
        const json::Value& exponent = r.get(d, "width_exponent");
        if (!exponent.is_null()) exponent_ = r.floats(exponent, "width_exponent");
        if (scale_.size() != n_layers_ || spread_.size() != n_layers_ || (!exponent.is_null() && exponent_.size() != n_layers_))
            r.fail("scale, deposit_spread and width_exponent must have a value per layer");
        for (float s : spread_) s_layer_.push_back(std::max(s, 1e-4f));
        const std::string shape = r.string(r.get(d, "shape"), "shape");
        const std::string deposit_shape = r.string(r.get(d, "deposit_shape"), "deposit_shape");
        gamma_ = shape == "gamma";
        above_ = deposit_shape == "above";
        floor_ = static_cast<float>(r.number(r.get(d, "floor"), "floor"));
        size_ = static_cast<float>(r.number(r.get(d, "deposit_size"), "deposit_size"));
        const json::Value& noise = r.get(d, "noise");
        if (!noise.is_numeric_array() || noise.size() != 2 || noise.numbers[0] < 0 || noise.numbers[1] < 0)
            r.fail("noise must be [first, count]");
        start_ = h.network_latent + static_cast<std::size_t>(noise.numbers[0]);
        fluct_noise_.assign(n_cells_, -1);
        deposit_noise_.assign(n_cells_, -1);
        long k = 0;
        for (std::size_t l : r.indices(r.get(d, "fluctuating_layers"), "fluctuating_layers", n_layers_))
            for (std::size_t i = bounds_[l]; i < bounds_[l + 1]; ++i) fluct_noise_[i] = k++;
        for (std::size_t l : r.indices(r.get(d, "deposit_layers"), "deposit_layers", n_layers_))
            for (std::size_t i = bounds_[l]; i < bounds_[l + 1]; ++i) { deposit_noise_[i] = k++; any_deposits_ = true; }
        if (start_ + static_cast<std::size_t>(k) > h.latent_dim)
            r.fail("the fluctuations need " + std::to_string(k) + " noise values beyond the model's latent size");
        out_width = n_cells_;
        // basis, smallest deposit, quantum, layer energies before, after, ratio, largest cell, hit flags
        work_size = n_rows_ + 7 * n_layers_;
    }

    void layer_sums(const float* y, float* sums) const {
        for (std::size_t l = 0; l < n_layers_; ++l) sums[l] = fsum(y + bounds_[l], bounds_[l + 1] - bounds_[l]);
    }
    // Layer energies back to `energies` (a layer that lost everything stays empty).
    void rescale(float* y, const float* energies, float* after) const {
        layer_sums(y, after);
        for (std::size_t l = 0; l < n_layers_; ++l) {
            const float ratio = after[l] > 0.0f ? energies[l] / std::max(after[l], 1e-30f) : 0.0f;
            for (std::size_t i = bounds_[l]; i < bounds_[l + 1]; ++i) y[i] = y[i] * ratio;
        }
    }

    void run(const float* x, float* y, const float* z, const float* c, float* work) const override {
        const float* noise = z + start_;
        float* b = work;
        float* smallest = b + n_rows_;
        float* quantum = smallest + n_layers_;
        float* before = quantum + n_layers_;
        float* after = before + n_layers_;
        float* largest = after + n_layers_;
        float* energy = largest + n_layers_;
        float* any_hit = energy + n_layers_;
        basis_.eval(c, n_rows_, b);
        basis_product(b, log_smallest_, n_rows_, n_layers_, smallest);
        for (std::size_t l = 0; l < n_layers_; ++l) {
            smallest[l] = std::exp(smallest[l]);
            quantum[l] = smallest[l] * scale_[l];
        }
        for (std::size_t i = 0; i < n_cells_; ++i) {
            const std::size_t l = layer_of_[i];
            const float xi = x[i];
            const bool hit = xi > 0.0f;
            const float safe = hit ? xi : 1.0f;
            float sigma = std::sqrt(safe * quantum[l]);
            if (!exponent_.empty()) sigma = sigma * std::exp(exponent_[l] * std::log(safe / quantum[l]));
            const float zc = fluct_noise_[i] >= 0 ? noise[fluct_noise_[i]] : 0.0f;
            if (gamma_) {
                const float relative = sigma / safe;
                const float cube = std::max(1.0f - relative * relative / 9.0f + relative * zc / 3.0f, 0.0f);
                y[i] = hit ? (fluct_noise_[i] >= 0 ? safe * cube * cube * cube : xi) : 0.0f;
            } else {
                y[i] = hit ? std::max(xi + sigma * zc, 0.0f) : 0.0f;
            }
        }
        layer_sums(x, before);
        for (std::size_t l = 0; l < n_layers_; ++l) {
            any_hit[l] = 0.0f;
            for (std::size_t i = bounds_[l]; i < bounds_[l + 1]; ++i)
                if (y[i] > 0.0f) any_hit[l] = 1.0f;
        }
        rescale(y, before, after);
        for (std::size_t l = 0; l < n_layers_; ++l)
            if (any_hit[l] == 0.0f) std::copy(x + bounds_[l], x + bounds_[l + 1], y + bounds_[l]);
        if (floor_ > 0.0f) {
            layer_sums(y, energy);
            for (std::size_t l = 0; l < n_layers_; ++l)
                largest[l] = *std::max_element(y + bounds_[l], y + bounds_[l + 1]);
            for (std::size_t i = 0; i < n_cells_; ++i) {
                const std::size_t l = layer_of_[i];
                const float cut = floor_ * smallest[l];
                const bool keep = y[i] >= cut || (y[i] >= largest[l] && energy[l] >= cut) || fluct_noise_[i] < 0;
                if (!(keep && y[i] > 0.0f)) y[i] = 0.0f;
            }
            rescale(y, before, after);
        }
        if (!any_deposits_) return;
        const float root_half = static_cast<float>(std::sqrt(0.5));
        for (std::size_t i = 0; i < n_cells_; ++i) {
            if (deposit_noise_[i] < 0) continue;
            const std::size_t l = layer_of_[i];
            const float dz = noise[deposit_noise_[i]];
            const float uniform = 0.5f * (1.0f + static_cast<float>(std::erf(static_cast<double>(dz * root_half))));
            const float s = s_layer_[l];
            const bool spread = spread_[l] > 0.0f;
            const float mean_factor = above_ && spread ? (std::exp(s) - 1.0f) / s : 1.0f;
            const float mean = (size_ * smallest[l]) * mean_factor;
            if (y[i] < 0.01f * mean) y[i] = 0.0f;
            const bool small = y[i] > 0.0f && y[i] < mean;
            if (!small) continue;
            const float safe_y = std::max(y[i], 1e-30f);
            const float factor = uniform * mean < y[i] ? mean / safe_y : 0.0f;
            const float position = std::min(uniform * mean / safe_y, 1.0f);
            float e = 1.0f;
            if (spread) {
                e = above_ ? std::exp(s * position) * s / (std::exp(s) - 1.0f)
                           : std::exp(s * (2.0f * position - 1.0f)) * 2.0f * s / (std::exp(s) - std::exp(-s));
            }
            y[i] = y[i] * factor * e;
        }
    }
};

// Monotone piecewise-linear maps (one per calibration point and channel), mixed linearly in
// c[0] between the points; see hepgan.models.calo.quantile_map. In double, as torch evaluates
// them: a rarely hit layer's knots can lie 1e-8 apart, and the sum of slope changes times
// distances then cancels far below float's resolution.
class QuantileMaps {
    std::vector<double> x_, y_, tail_, bends_, centres_;  // x_, y_, bends_: (channels, points, knots)
    std::size_t points_ = 0, knots_ = 0;

    static std::vector<double> wide(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

public:
    std::size_t channels = 0;

    QuantileMaps() = default;
    QuantileMaps(const json::Value& d, const Reader& r, bool layered) {
        std::size_t tail_rows = 1, tail_cols = 0, p2 = 0, k2 = 0, c2 = 1;
        if (layered) {
            x_ = wide(r.tensor3(r.get(d, "knots_in"), "knots_in", channels, points_, knots_));
            y_ = wide(r.tensor3(r.get(d, "knots_out"), "knots_out", c2, p2, k2));
            tail_ = wide(r.matrix(r.get(d, "tail_slope"), "tail_slope", tail_rows, tail_cols));
        } else {
            channels = 1;
            x_ = wide(r.matrix(r.get(d, "knots_in"), "knots_in", points_, knots_));
            y_ = wide(r.matrix(r.get(d, "knots_out"), "knots_out", p2, k2));
            tail_ = wide(r.floats(r.get(d, "tail_slope"), "tail_slope"));
            tail_cols = tail_.size();
        }
        centres_ = wide(r.floats(r.get(d, "centres"), "centres"));
        if (c2 != channels || p2 != points_ || k2 != knots_ || tail_rows != channels || tail_cols != points_ ||
            centres_.size() != points_)
            r.fail("knots_in, knots_out, tail_slope and centres do not fit together");
        bends_.resize(x_.size());
        for (std::size_t m = 0; m < channels * points_; ++m) {
            const double* x = &x_[m * knots_];
            const double* y = &y_[m * knots_];
            double previous = tail_[m];
            for (std::size_t k = 0; k < knots_; ++k) {
                const double slope = k + 1 < knots_ ? (y[k + 1] - y[k]) / (x[k + 1] - x[k]) : tail_[m];
                bends_[m * knots_ + k] = slope - previous;
                previous = slope;
            }
        }
    }

    // The map of `channel` at `value`: each point's map, mixed along the points by c0.
    float operator()(std::size_t channel, float value_f, float c0_f) const {
        const double value = value_f, c0 = c0_f;
        double first = 0.0, previous = 0.0, mix = 0.0;
        for (std::size_t p = 0; p < points_; ++p) {
            const std::size_t m = channel * points_ + p;
            const double* x = &x_[m * knots_];
            const double* bend = &bends_[m * knots_];
            double s = 0.0;
            for (std::size_t k = 0; k < knots_; ++k) s += bend[k] * std::max(value - x[k], 0.0);
            const double at = y_[m * knots_] + tail_[m] * (value - x[0]) + s;
            if (p == 0) {
                first = at;
            } else {
                const double along =
                    std::min(std::max((c0 - centres_[p - 1]) / (centres_[p] - centres_[p - 1]), 0.0), 1.0);
                mix += along * (at - previous);
            }
            previous = at;
        }
        return static_cast<float>(first + mix);
    }
};

class LayerCalibration : public Stage {
    QuantileMaps map_;
    std::vector<std::size_t> bounds_;
    float min_factor_ = 0;

public:
    LayerCalibration(const json::Value& d, const Reader& r, HeadContext& h) {
        map_ = QuantileMaps(d, r, true);
        min_factor_ = static_cast<float>(r.number(r.get(d, "min_factor"), "min_factor"));
        if (h.layer_bounds.size() != map_.channels + 1)
            r.fail("needs a shower_features stage before it with " + std::to_string(map_.channels) + " layers");
        if (h.n_cond == 0) r.fail("needs the conditions, which the network does not take");
        bounds_ = h.layer_bounds;
        out_width = h.width;
        work_size = 3 * map_.channels;
    }
    void run(const float* x, float* y, const float*, const float* c, float* work) const override {
        const std::size_t n = map_.channels;
        float* fraction = work;
        float* wanted = fraction + n;
        float* factor = wanted + n;
        for (std::size_t l = 0; l < n; ++l) fraction[l] = fsum(x + bounds_[l], bounds_[l + 1] - bounds_[l]);
        const float total = std::max(fsum(fraction, n), 1e-12f);
        for (std::size_t l = 0; l < n; ++l) {
            fraction[l] = fraction[l] / total;
            wanted[l] = fraction[l] > 0.0f ? std::max(map_(l, fraction[l], c[0]), min_factor_ * fraction[l]) : 0.0f;
        }
        const float wanted_total = std::max(fsum(wanted, n), 1e-12f);
        for (std::size_t l = 0; l < n; ++l) {
            wanted[l] = wanted[l] / wanted_total;
            factor[l] = fraction[l] > 0.0f ? wanted[l] / std::max(fraction[l], 1e-12f) : 1.0f;
            for (std::size_t i = bounds_[l]; i < bounds_[l + 1]; ++i) y[i] = x[i] * factor[l];
        }
    }
};

class ResponseCalibration : public Stage {
    QuantileMaps map_;
    float min_factor_ = 0;
    std::size_t width_ = 0;

public:
    ResponseCalibration(const json::Value& d, const Reader& r, HeadContext& h) {
        map_ = QuantileMaps(d, r, false);
        min_factor_ = static_cast<float>(r.number(r.get(d, "min_factor"), "min_factor"));
        if (h.n_cond == 0) r.fail("needs the conditions, which the network does not take");
        width_ = out_width = h.width;
    }
    void run(const float* x, float* y, const float*, const float* c, float*) const override {
        const float r = fsum(x, width_);
        const float calibrated = std::max(map_(0, r, c[0]), min_factor_ * r);
        const float factor = calibrated / std::max(r, 1e-12f);
        for (std::size_t i = 0; i < width_; ++i) y[i] = x[i] * factor;
    }
};

// [lo, hi): the k in [0, n) with 0 <= k s + d < limit; where a kernel tap meets the image.
inline void valid_range(std::size_t n, std::size_t s, long d, std::size_t limit, std::size_t& lo, std::size_t& hi) {
    const long step = static_cast<long>(s), count = static_cast<long>(n);
    const long first = std::min(d >= 0 ? 0L : (-d + step - 1) / step, count);
    const long top = static_cast<long>(limit) - 1 - d;  // k s <= top
    const long end = top < 0 ? 0 : std::min(top / step + 1, count);
    lo = static_cast<std::size_t>(first);
    hi = static_cast<std::size_t>(std::max(end, first));
}

// The image_network stage of convolutional generators (hepgan.export.image_layers): reshapes,
// convolutions, transposed convolutions, upsampling, normalization, dense layers and
// activations, in float, as torch runs them (images are (channels, rows, columns), row-major).
class ImageNetwork : public Stage {
    enum class Op { conv, tconv, nearest, bilinear, normalization, dense, activation, output_activation };
    struct Step {
        Op op = Op::activation;
        std::size_t c = 0, h = 0, w = 0, oc = 0, oh = 0, ow = 0;  // the input and output images
        std::size_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, factor = 1;
        std::size_t out_size = 0, inner = 1;  // inner: the values each normalization weight scales
        std::vector<float> weights, bias;     // conv: (out, in, kh, kw); tconv: (in, out x kh x kw padded)
        // conv: the output rows (columns) each kernel row (column) reaches; tconv: the input ones
        std::vector<std::size_t> lo_y, hi_y, lo_x, hi_x;
        // bilinear: each output row's (column's) source rows below and above and the weight of the one above
        std::vector<std::size_t> below_y, above_y, below_x, above_x;
        std::vector<float> t_y, t_x;
        Layer dense;
        Act act = Act::linear;
        OutAct out_act = OutAct::none;
        float alpha = 1.0f;
    };
    std::vector<Step> steps_;
    std::size_t in_width_ = 0, half_ = 0;

    static void bilinear_axis(std::size_t size, std::size_t factor, std::vector<std::size_t>& below,
                              std::vector<std::size_t>& above, std::vector<float>& t) {
        const float f = static_cast<float>(factor);
        for (std::size_t k = 0; k < size * factor; ++k) {  // torch's align_corners=False source position
            const float source = std::max((static_cast<float>(k) + 0.5f) / f - 0.5f, 0.0f);
            const std::size_t low = std::min(static_cast<std::size_t>(std::floor(source)), size - 1);
            below.push_back(low);
            above.push_back(std::min(low + 1, size - 1));
            t.push_back(source - static_cast<float>(low));
        }
    }

public:
    ImageNetwork(const json::Value& d, const Reader& r, HeadContext& h) {
        in_width_ = h.width;
        const json::Value& layers = r.get(d, "layers");
        if (!layers.is_array() || !layers.numbers.empty()) r.fail("layers must be a list of layers");
        std::vector<std::size_t> dims{h.width};  // the current shape, one sample's
        std::size_t size = h.width, scratch = 1;
        half_ = padded(size);
        for (std::size_t i = 0; i < layers.items.size(); ++i) {
            const json::Value& layer = layers.items[i];
            const Reader rl = r.at(r.where + ": image_network layer " + std::to_string(i));
            const std::string type = rl.string(rl.get(layer, "type"), "type");
            const bool image = dims.size() == 3;
            Step s;
            if (image) { s.c = dims[0]; s.h = dims[1]; s.w = dims[2]; }
            auto need_image = [&]() {
                if (!image) rl.fail(type + " needs an image (channels, rows, columns) but gets " + std::to_string(dims.size()) +
                                    " dimensions (a reshape before it?)");
            };
            if (type == "reshape") {
                std::vector<std::size_t> shape;
                for (double n : rl.doubles(rl.get(layer, "shape"), "shape")) {
                    if (n < 1 || n != std::floor(n) || n > 1e9) rl.fail("shape must hold positive integers");
                    shape.push_back(static_cast<std::size_t>(n));
                }
                if (shape.empty() || Reader::total(shape) != size)
                    rl.fail("reshape to " + std::to_string(Reader::total(shape)) + " values of " + std::to_string(size));
                dims = shape;
                continue;
            }
            if (type == "flatten") {
                dims.assign(1, size);
                continue;
            }
            if (type == "conv" || type == "tconv") {
                need_image();
                const bool transposed = type == "tconv";
                std::vector<std::size_t> wd;
                const std::vector<float> w = rl.tensor(rl.get(layer, "weights"), "weights", 4, wd);
                const std::size_t in_channels = transposed ? wd[0] : wd[1];
                s.oc = transposed ? wd[1] : wd[0];
                s.kh = wd[2];
                s.kw = wd[3];
                if (in_channels != s.c)
                    rl.fail("weights " + std::string(transposed ? "(in, out, kh, kw)" : "(out, in, kh, kw)") + " take " +
                            std::to_string(in_channels) + " channels but the image has " + std::to_string(s.c));
                s.bias = rl.floats(rl.get(layer, "bias"), "bias");
                if (s.bias.size() != s.oc)
                    rl.fail(std::to_string(s.bias.size()) + " biases for " + std::to_string(s.oc) + " output channels");
                std::tie(s.sh, s.sw) = rl.pair(rl.get(layer, "stride"), "stride", 1);
                std::tie(s.ph, s.pw) = rl.pair(rl.get(layer, "padding"), "padding", 0);
                long oh = 0, ow = 0;
                if (transposed) {
                    const auto extra = rl.pair(rl.get(layer, "output_padding"), "output_padding", 0);
                    oh = static_cast<long>((s.h - 1) * s.sh + s.kh + extra.first) - 2 * static_cast<long>(s.ph);
                    ow = static_cast<long>((s.w - 1) * s.sw + s.kw + extra.second) - 2 * static_cast<long>(s.pw);
                } else if (s.h + 2 * s.ph >= s.kh && s.w + 2 * s.pw >= s.kw) {
                    oh = static_cast<long>((s.h + 2 * s.ph - s.kh) / s.sh + 1);
                    ow = static_cast<long>((s.w + 2 * s.pw - s.kw) / s.sw + 1);
                }
                if (oh < 1 || ow < 1)
                    rl.fail("a " + std::to_string(s.kh) + "x" + std::to_string(s.kw) + " kernel with this stride and "
                            "padding leaves nothing of a " + std::to_string(s.h) + "x" + std::to_string(s.w) + " image");
                s.oh = static_cast<std::size_t>(oh);
                s.ow = static_cast<std::size_t>(ow);
                s.lo_y.resize(s.kh); s.hi_y.resize(s.kh); s.lo_x.resize(s.kw); s.hi_x.resize(s.kw);
                for (std::size_t k = 0; k < s.kh; ++k) {
                    const long d = static_cast<long>(k) - static_cast<long>(s.ph);
                    if (transposed) valid_range(s.h, s.sh, d, s.oh, s.lo_y[k], s.hi_y[k]);
                    else valid_range(s.oh, s.sh, d, s.h, s.lo_y[k], s.hi_y[k]);
                }
                for (std::size_t k = 0; k < s.kw; ++k) {
                    const long d = static_cast<long>(k) - static_cast<long>(s.pw);
                    if (transposed) valid_range(s.w, s.sw, d, s.ow, s.lo_x[k], s.hi_x[k]);
                    else valid_range(s.ow, s.sw, d, s.w, s.lo_x[k], s.hi_x[k]);
                }
                if (transposed) {  // (in, out x kh x kw), the rows padded with zeros to whole blocks
                    s.op = Op::tconv;
                    const std::size_t q_count = s.oc * s.kh * s.kw, q_stride = padded(q_count);
                    s.weights.assign(s.c * q_stride, 0.0f);
                    for (std::size_t c = 0; c < s.c; ++c)
                        std::copy(w.begin() + c * q_count, w.begin() + (c + 1) * q_count, s.weights.begin() + c * q_stride);
                    scratch = std::max(scratch, (s.c + q_stride) * padded(s.h * s.w));
                } else {
                    s.op = Op::conv;
                    s.weights = w;
                }
                dims = {s.oc, s.oh, s.ow};
            } else if (type == "upsample") {
                need_image();
                const std::string mode = rl.string(rl.get(layer, "mode"), "mode");
                s.factor = rl.count(rl.get(layer, "factor"), "factor");
                if (s.factor < 1 || s.factor > 1024) rl.fail("factor must be a positive integer");
                s.oc = s.c;
                s.oh = s.h * s.factor;
                s.ow = s.w * s.factor;
                if (mode == "nearest") {
                    s.op = Op::nearest;
                } else if (mode == "bilinear") {
                    s.op = Op::bilinear;
                    bilinear_axis(s.h, s.factor, s.below_y, s.above_y, s.t_y);
                    bilinear_axis(s.w, s.factor, s.below_x, s.above_x, s.t_x);
                    scratch = std::max(scratch, s.w);
                } else {
                    rl.fail("upsample mode '" + mode + "' is not supported (nearest, bilinear)");
                }
                dims = {s.oc, s.oh, s.ow};
            } else if (type == "normalization") {
                s.op = Op::normalization;
                s.weights = rl.floats(rl.get(layer, "weights"), "weights");
                s.bias = rl.floats(rl.get(layer, "bias"), "bias");
                if (s.weights.size() != s.bias.size() || s.weights.size() != dims[0])
                    rl.fail("normalization weights and bias must have a value per " +
                            std::string(dims.size() > 1 ? "channel (" : "value (") + std::to_string(dims[0]) + ")");
                s.inner = size / dims[0];
            } else if (type == "dense") {
                if (dims.size() != 1)
                    rl.fail("dense needs a flat vector but gets " + std::to_string(dims.size()) + " dimensions (a flatten before it?)");
                s.op = Op::dense;
                std::size_t rows = 0, cols = 0;
                const std::vector<float> w = rl.matrix(rl.get(layer, "weights"), "weights", rows, cols);
                const std::vector<float> b = rl.floats(rl.get(layer, "bias"), "bias");
                if (b.size() != rows || cols != size)
                    rl.fail("weights (" + std::to_string(rows) + ", " + std::to_string(cols) + ") and " +
                            std::to_string(b.size()) + " biases do not fit " + std::to_string(size) + " inputs");
                Layer& dl = s.dense;
                dl.n_in = cols;
                dl.n_out = rows;
                dl.stride = padded(rows);
                dl.weights.assign(cols * dl.stride, 0.0f);
                for (std::size_t o = 0; o < rows; ++o)
                    for (std::size_t k = 0; k < cols; ++k) dl.weights[k * dl.stride + o] = w[o * cols + k];
                dl.bias.assign(dl.stride, 0.0f);
                std::copy(b.begin(), b.end(), dl.bias.begin());
                dims = {rows};
            } else if (type == "activation") {
                const std::string name = rl.string(rl.get(layer, "function"), "function");
                s.out_act = name == "softplus" ? OutAct::softplus : name == "exp" ? OutAct::exp
                          : name == "abs" ? OutAct::abs : name == "softsign" ? OutAct::softsign
                          : name == "gauss" ? OutAct::gauss : OutAct::none;
                if (s.out_act != OutAct::none) s.op = Op::output_activation;
                else if (name == "linear" || name == "rectified" || name == "sigmoid" || name == "tanh" ||
                         name == "leakyrelu" || name == "elu" || name == "swish")
                    s.act = read_activation(layer, rl, s.alpha);
                else rl.fail("unknown activation '" + name + "' (linear, rectified, sigmoid, tanh, leakyrelu, elu, swish, "
                             "softplus, exp, abs, softsign, gauss)");
            } else {
                rl.fail("unknown type '" + type + "' (reshape, flatten, conv, tconv, upsample, normalization, dense, "
                        "activation)");
            }
            size = Reader::total(dims);
            s.out_size = size;
            half_ = std::max(half_, padded(size));
            steps_.push_back(std::move(s));
        }
        out_width = h.width = size;
        work_size = 2 * half_ + scratch;  // two buffers that take turns, and a transposed convolution's products
    }

    void run(const float* in, float* out, const float*, const float*, float* work) const override {
        float* const buffers[2] = {work, work + half_};
        float* const scratch = work + 2 * half_;
        const float* x = in;
        float* own = nullptr;  // x, once it is one of the buffers (elementwise steps then run in place)
        std::size_t n = in_width_;
        for (const Step& s : steps_) {
            const bool elementwise = s.op == Op::activation || s.op == Op::output_activation || s.op == Op::normalization;
            float* y = (elementwise && own != nullptr) ? own : (own == buffers[0] ? buffers[1] : buffers[0]);
            switch (s.op) {
                case Op::activation:
                    if (y != x) std::copy(x, x + n, y);
                    activate(s.act, s.alpha, y, n);
                    break;
                case Op::output_activation:
                    if (y != x) std::copy(x, x + n, y);
                    output_activate(s.out_act, y, n);
                    break;
                case Op::normalization:
                    for (std::size_t g = 0, i = 0; g < s.weights.size(); ++g)
                        for (std::size_t k = 0; k < s.inner; ++k, ++i) y[i] = (x[i] + s.bias[g]) * s.weights[g];
                    break;
                case Op::dense: run_layer(s.dense, x, y); break;
                case Op::conv: conv(s, x, y); break;
                case Op::tconv: tconv(s, x, y, scratch); break;
                case Op::nearest: nearest(s, x, y); break;
                case Op::bilinear: bilinear(s, x, y, scratch); break;
            }
            x = own = y;
            n = s.out_size;
        }
        std::copy(x, x + n, out);
    }

    // Each output: its taps summed in (input channel, kernel row, kernel column) order, then the
    // bias; the inner loop runs along an output row.
    static void conv(const Step& s, const float* x, float* y) {
        const std::size_t plane = s.oh * s.ow;
        for (std::size_t o = 0; o < s.oc; ++o) {
            float* yo = y + o * plane;
            std::fill(yo, yo + plane, 0.0f);
            for (std::size_t c = 0; c < s.c; ++c) {
                const float* xc = x + c * s.h * s.w;
                const float* wk = s.weights.data() + (o * s.c + c) * s.kh * s.kw;
                for (std::size_t i = 0; i < s.kh; ++i) {
                    for (std::size_t j = 0; j < s.kw; ++j) {
                        const float wv = wk[i * s.kw + j];
                        const std::size_t lo = s.lo_x[j], count = s.hi_x[j] - lo;
                        if (count == 0) continue;
                        const std::size_t first = lo * s.sw + j - s.pw;  // input column of output column lo
                        for (std::size_t oy = s.lo_y[i]; oy < s.hi_y[i]; ++oy) {
                            const float* xr = xc + (oy * s.sh + i - s.ph) * s.w + first;
                            float* yr = yo + oy * s.ow + lo;
                            if (s.sw == 1) {
                                for (std::size_t k = 0; k < count; ++k) yr[k] += wv * xr[k];
                            } else {
                                for (std::size_t k = 0; k < count; ++k) yr[k] += wv * xr[k * s.sw];
                            }
                        }
                    }
                }
            }
            for (std::size_t p = 0; p < plane; ++p) yo[p] += s.bias[o];
        }
    }

    // As hepgan's NumPy code: every input pixel times every (output channel, kernel row, kernel
    // column) weight, summed over the input channels (a matrix product), then these products
    // added to the output in (kernel row, kernel column) order, then the bias.
    static void tconv(const Step& s, const float* x, float* y, float* scratch) {
        const std::size_t pixels = s.h * s.w, q_count = s.oc * s.kh * s.kw;
        const std::size_t p_stride = padded(pixels), q_stride = padded(q_count);
        float* image = scratch;  // the input with its rows of pixels padded to whole blocks
        float* products = image + s.c * p_stride;
        for (std::size_t c = 0; c < s.c; ++c) {
            std::copy(x + c * pixels, x + (c + 1) * pixels, image + c * p_stride);
            std::fill(image + c * p_stride + pixels, image + (c + 1) * p_stride, 0.0f);
        }
        // products (q, pixel) = sum over c of weights (c, q) x image (c, pixel), in c order, on
        // blocks of kBlock x kBlock whose eight independent sums stay in registers
        static_assert(kBlock == 8, "one sum per row of a block");
        for (std::size_t q0 = 0; q0 < q_stride; q0 += kBlock) {
            for (std::size_t p0 = 0; p0 < p_stride; p0 += kBlock) {
                float t0[kBlock] = {}, t1[kBlock] = {}, t2[kBlock] = {}, t3[kBlock] = {};
                float t4[kBlock] = {}, t5[kBlock] = {}, t6[kBlock] = {}, t7[kBlock] = {};
                const float* wc = s.weights.data() + q0;
                const float* xc = image + p0;
                for (std::size_t c = 0; c < s.c; ++c, wc += q_stride, xc += p_stride) {
                    for (std::size_t k = 0; k < kBlock; ++k) {
                        const float xk = xc[k];
                        t0[k] += wc[0] * xk;
                        t1[k] += wc[1] * xk;
                        t2[k] += wc[2] * xk;
                        t3[k] += wc[3] * xk;
                        t4[k] += wc[4] * xk;
                        t5[k] += wc[5] * xk;
                        t6[k] += wc[6] * xk;
                        t7[k] += wc[7] * xk;
                    }
                }
                float* out = products + q0 * p_stride + p0;
                for (const float* t : {t0, t1, t2, t3, t4, t5, t6, t7}) {
                    std::copy(t, t + kBlock, out);
                    out += p_stride;
                }
            }
        }
        const std::size_t plane = s.oh * s.ow;
        std::fill(y, y + s.oc * plane, 0.0f);
        for (std::size_t o = 0; o < s.oc; ++o) {
            float* yo = y + o * plane;
            for (std::size_t i = 0; i < s.kh; ++i) {
                for (std::size_t j = 0; j < s.kw; ++j) {
                    const float* row = products + ((o * s.kh + i) * s.kw + j) * p_stride;
                    const std::size_t lo = s.lo_x[j], count = s.hi_x[j] - lo;
                    if (count == 0) continue;
                    const std::size_t first = lo * s.sw + j - s.pw;  // output column of input column lo
                    for (std::size_t iy = s.lo_y[i]; iy < s.hi_y[i]; ++iy) {
                        float* yr = yo + (iy * s.sh + i - s.ph) * s.ow + first;
                        const float* pr = row + iy * s.w + lo;
                        for (std::size_t k = 0; k < count; ++k) yr[k * s.sw] += pr[k];
                    }
                }
            }
            for (std::size_t p = 0; p < plane; ++p) yo[p] += s.bias[o];
        }
    }

    static void nearest(const Step& s, const float* x, float* y) {
        for (std::size_t c = 0; c < s.c; ++c)
            for (std::size_t oy = 0; oy < s.oh; ++oy) {
                const float* xr = x + (c * s.h + oy / s.factor) * s.w;
                float* yr = y + (c * s.oh + oy) * s.ow;
                for (std::size_t ox = 0; ox < s.ow; ++ox) yr[ox] = xr[ox / s.factor];
            }
    }

    // Rows first, then columns, as hepgan's NumPy code: a (1 - t) + b t in float at each step.
    static void bilinear(const Step& s, const float* x, float* y, float* row) {
        for (std::size_t c = 0; c < s.c; ++c)
            for (std::size_t oy = 0; oy < s.oh; ++oy) {
                const float* a = x + (c * s.h + s.below_y[oy]) * s.w;
                const float* b = x + (c * s.h + s.above_y[oy]) * s.w;
                const float t = s.t_y[oy], u = 1.0f - t;
                for (std::size_t ix = 0; ix < s.w; ++ix) row[ix] = a[ix] * u + b[ix] * t;
                float* yr = y + (c * s.oh + oy) * s.ow;
                for (std::size_t ox = 0; ox < s.ow; ++ox)
                    yr[ox] = row[s.below_x[ox]] * (1.0f - s.t_x[ox]) + row[s.above_x[ox]] * s.t_x[ox];
            }
    }
};

// NumPy's float32 sum along a row (pairwise, in blocks of eight): the layered stage sums as
// hepgan's NumPy runtime does, so that its threshold decisions come out the same.
inline float numpy_sum(const float* a, std::size_t n) {
    if (n < 8) {
        float s = 0.0f;
        for (std::size_t i = 0; i < n; ++i) s += a[i];
        return s;
    }
    if (n <= 128) {
        float r[8];
        std::copy(a, a + 8, r);
        std::size_t i = 8;
        for (; i < n - n % 8; i += 8)
            for (std::size_t j = 0; j < 8; ++j) r[j] += a[i + j];
        float s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) s += a[i];
        return s;
    }
    std::size_t half = n / 2;
    half -= half % 8;
    return numpy_sum(a, half) + numpy_sum(a + half, n - half);
}

// The inverse of the standard normal CDF: Acklam's rational approximation (relative error
// ~1e-9), then two Halley steps on erfc, which bring it to double precision.
inline double normal_quantile(double p) {
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    const double low = 0.02425;
    double x;
    if (p < low || p > 1.0 - low) {
        const double q = std::sqrt(-2.0 * std::log(p < low ? p : 1.0 - p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
        if (p > 1.0 - low) x = -x;
    } else {
        const double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
    }
    for (int step = 0; step < 2; ++step) {
        const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
        const double u = e * std::sqrt(2.0 * 3.14159265358979323846) * std::exp(0.5 * x * x);
        x -= u / (1.0 + 0.5 * x * u);
    }
    return x;
}

// The layered family's head (hepgan.export.layered_head): the energy network's output v (the
// deposited energy and its split over the layers), the caller's latent vector and the
// conditions -> the cells as fractions of the incident energy, layer after layer.
class LayeredShower : public Stage {
    std::vector<std::size_t> sizes_;
    std::size_t n_layers_ = 0, width_ = 0, shower_ = 0, shape_ = 0, n_cond_ = 0, n_embed_ = 0, n_steps_ = 0;
    std::size_t n_in_ = 0, stride_ = 0;  // the shape network's inputs, and the row length of its buffers
    std::vector<float> energy_map_, knots_, step_, mean0_, mean_rise_, log_var0_, log_var_rise_;
    std::vector<float> threshold_, layer_log_share_, cell_log_share_, embedding_;
    float log_scale0_ = 0, log_scale1_ = 1, min_std_ = 0;
    float empty0_ = 0;  // the chance of a shower without energy: first knot value and rises
    std::vector<float> empty_rise_;
    bool has_empty_ = false;
    bool cell_noise_ = false;  // the shape network also gives each cell's noise scale
    std::vector<Layer> net_;

    // values (features, knots) -> its first column and the rises between knots, (features, knots - 1).
    void split(const std::vector<float>& values, std::vector<float>& first, std::vector<float>& rise) const {
        const std::size_t k = n_steps_ + 1;
        for (std::size_t f = 0; f <= n_layers_; ++f) {
            first.push_back(values[f * k]);
            for (std::size_t j = 0; j < n_steps_; ++j) rise.push_back(values[f * k + j + 1] - values[f * k + j]);
        }
    }
    std::vector<float> matrix(const json::Value& d, const Reader& r, const char* key, std::size_t rows, std::size_t cols) const {
        std::size_t n = 0, m = 0;
        std::vector<float> out = r.matrix(r.get(d, key), key, n, m);
        if (n != rows || m != cols)
            r.fail(std::string(key) + " has shape (" + std::to_string(n) + ", " + std::to_string(m) + "), expected (" +
                   std::to_string(rows) + ", " + std::to_string(cols) + ")");
        return out;
    }
    std::vector<float> vector(const json::Value& d, const Reader& r, const char* key, std::size_t n) const {
        std::vector<float> out = r.floats(r.get(d, key), key);
        if (out.size() != n)
            r.fail(std::string(key) + " has " + std::to_string(out.size()) + " values, expected " + std::to_string(n));
        return out;
    }

public:
    LayeredShower(const json::Value& d, const Reader& r, HeadContext& h) {
        for (double s : r.doubles(r.get(d, "layer_sizes"), "layer_sizes")) {
            if (s < 1 || s != std::floor(s) || s > 1e9) r.fail("layer_sizes must hold positive integers");
            sizes_.push_back(static_cast<std::size_t>(s));
        }
        n_layers_ = sizes_.size();
        if (n_layers_ == 0) r.fail("layer_sizes must not be empty");
        width_ = r.count(r.get(d, "width"), "width");
        if (*std::max_element(sizes_.begin(), sizes_.end()) > width_) r.fail("a layer has more cells than width");
        shower_ = r.count(r.get(d, "shower_latent"), "shower_latent");
        shape_ = r.count(r.get(d, "shape_latent"), "shape_latent");
        if (shower_ == 0) r.fail("shower_latent must be at least 1");
        if (const json::Value* flag = d.find("cell_noise")) {  // absent from files written before it was learned
            if (flag->type != json::Type::boolean) r.fail("cell_noise must be true or false, got " + quoted(*flag));
            cell_noise_ = flag->flag;
        }
        const std::size_t cell_latent = cell_noise_ ? n_layers_ * width_ : 0;
        if (shower_ + n_layers_ * shape_ + cell_latent != h.latent_dim)
            r.fail(std::to_string(shower_) + " shower, " + std::to_string(n_layers_) + " x " + std::to_string(shape_) +
                   " shape and " + std::to_string(cell_latent) + " cell latent values do not make the model's " +
                   std::to_string(h.latent_dim));
        if (h.width != n_layers_ + 1)
            r.fail("the network gives " + std::to_string(h.width) + " values but " + std::to_string(n_layers_) +
                   " layers need " + std::to_string(n_layers_ + 1));
        n_cond_ = h.n_cond;
        energy_map_ = vector(d, r, "energy_map", n_cond_ + 1);
        const std::vector<float> scale = vector(d, r, "log_energy_scale", 2);
        log_scale0_ = scale[0];
        log_scale1_ = scale[1];
        knots_ = r.floats(r.get(d, "energy_knots"), "energy_knots");
        if (knots_.empty()) r.fail("energy_knots must not be empty");
        n_steps_ = knots_.size() - 1;
        for (std::size_t k = 0; k < n_steps_; ++k) step_.push_back(std::max(knots_[k + 1] - knots_[k], 1e-12f));
        split(matrix(d, r, "energy_mean", n_layers_ + 1, knots_.size()), mean0_, mean_rise_);
        split(matrix(d, r, "energy_log_var", n_layers_ + 1, knots_.size()), log_var0_, log_var_rise_);
        min_std_ = static_cast<float>(r.number(r.get(d, "min_energy_std"), "min_energy_std"));
        if (d.find("empty_fraction")) {  // absent from files written before empty showers were modelled
            const std::vector<float> empty = matrix(d, r, "empty_fraction", 1, knots_.size());
            empty0_ = empty[0];
            for (std::size_t k = 0; k < n_steps_; ++k) empty_rise_.push_back(empty[k + 1] - empty[k]);
            has_empty_ = *std::max_element(empty.begin(), empty.end()) > 0.0f;
        }
        threshold_ = vector(d, r, "threshold", n_layers_);
        layer_log_share_ = vector(d, r, "layer_log_share", n_layers_);
        cell_log_share_ = matrix(d, r, "cell_log_share", n_layers_, width_);
        std::size_t rows = 0;
        embedding_ = r.matrix(r.get(d, "embedding"), "embedding", rows, n_embed_);
        if (rows != n_layers_) r.fail("embedding must have a row per layer");
        n_in_ = shower_ + shape_ + n_cond_ + n_embed_ + n_layers_ + 2;
        std::size_t net_width = n_in_;
        net_ = read_layers(r.get(d, "shape_network"), r, r.where + ": shape_network layer ", net_width, stride_);
        const std::size_t per_cell = cell_noise_ ? 2 : 1;  // logits, then the noise scales
        if (net_width != per_cell * width_)
            r.fail("the shape_network gives " + std::to_string(net_width) + " values but width " + std::to_string(width_) +
                   (cell_noise_ ? " with cell_noise needs " : " needs ") + std::to_string(per_cell * width_));
        std::size_t cells = 0;
        for (std::size_t s : sizes_) cells += s;
        out_width = h.width = cells;
        // energy moments and context, layer energies and shares, interpolation weights, the shape
        // network's inputs and two buffers, then a layer's shares, cells and cells kept
        work_size = 3 * (n_layers_ + 1) + 2 * n_layers_ + std::max<std::size_t>(n_steps_, 1) + n_layers_ * n_in_ +
                    2 * n_layers_ * stride_ + 3 * width_;
    }

    void run(const float* v, float* out, const float* z, const float* c, float* work) const override {
        const std::size_t n_layers = n_layers_, n_features = n_layers + 1, w = width_;
        float* mean = work;
        float* deviation = mean + n_features;
        float* context = deviation + n_features;
        float* layer_energy = context + n_features;
        float* share = layer_energy + n_layers;
        float* weight = share + n_layers;
        float* inputs = weight + std::max<std::size_t>(n_steps_, 1);
        float* buffers[2] = {inputs + n_layers * n_in_, inputs + n_layers * n_in_ + n_layers * stride_};
        float* row = buffers[1] + n_layers * stride_;
        float* cells = row + w;
        float* kept = cells + w;

        // the incident energy and the energy features' moments there
        float dot = 0.0f;
        for (std::size_t j = 0; j < n_cond_; ++j) dot += c[j] * energy_map_[j];
        const float energy = std::exp(dot + energy_map_[n_cond_]);
        const float u = (std::log(energy) - log_scale0_) / log_scale1_;
        for (std::size_t k = 0; k < n_steps_; ++k) weight[k] = std::min(std::max((u - knots_[k]) / step_[k], 0.0f), 1.0f);
        for (std::size_t f = 0; f < n_features; ++f) {
            float m = 0.0f, lv = 0.0f;
            for (std::size_t k = 0; k < n_steps_; ++k) {
                m += weight[k] * mean_rise_[f * n_steps_ + k];
                lv += weight[k] * log_var_rise_[f * n_steps_ + k];
            }
            mean[f] = mean0_[f] + m;
            deviation[f] = std::max(std::exp(0.5f * (log_var0_[f] + lv)), min_std_);
        }

        // the deposited energy, its split over the layers, and the context the shapes see
        float noise = z[0], holds = 1.0f;
        if (has_empty_) {  // the lowest p quantile of the noise leaves no energy; the rest is mapped
            float p = 0.0f;  // back onto a whole Gaussian
            for (std::size_t k = 0; k < n_steps_; ++k) p += weight[k] * empty_rise_[k];
            const double chance = static_cast<double>(empty0_ + p);
            const double upper = 0.5 * std::erfc(static_cast<double>(z[0]) / std::sqrt(2.0));
            holds = upper <= 1.0 - chance ? 1.0f : 0.0f;
            const double ratio = std::min(std::max(upper / (1.0 - chance), 1e-300), 1.0 - 1e-16);
            noise = static_cast<float>(-normal_quantile(ratio));
        }
        const float total = std::exp(mean[n_layers] + deviation[n_layers] * (noise + v[0])) * holds;
        float top = -std::numeric_limits<float>::infinity();
        for (std::size_t l = 0; l < n_layers; ++l) {
            share[l] = layer_log_share_[l] + v[1 + l];
            top = std::max(top, share[l]);
        }
        for (std::size_t l = 0; l < n_layers; ++l) share[l] = std::exp(share[l] - top);
        const float share_sum = numpy_sum(share, n_layers);
        for (std::size_t l = 0; l < n_layers; ++l) {
            layer_energy[l] = total * share[l] / share_sum;
            context[l] = std::log1p(layer_energy[l] * energy / threshold_[l]);
        }
        context[n_layers] = std::log(std::max(numpy_sum(layer_energy, n_layers), 1e-12f));
        for (std::size_t f = 0; f < n_features; ++f) context[f] = (context[f] - mean[f]) / deviation[f];

        // one shape-network row per layer: [z_shower, z_layer, c, embedding, context, own context]
        for (std::size_t l = 0; l < n_layers; ++l) {
            float* x = inputs + l * n_in_;
            x = std::copy(z, z + shower_, x);
            x = std::copy(z + shower_ + l * shape_, z + shower_ + (l + 1) * shape_, x);
            x = std::copy(c, c + n_cond_, x);
            x = std::copy(embedding_.data() + l * n_embed_, embedding_.data() + (l + 1) * n_embed_, x);
            x = std::copy(context, context + n_features, x);
            *x = context[l];
        }
        const float* y = inputs;
        std::size_t y_stride = n_in_;
        for (const Layer& layer : net_) {
            float* target = y == buffers[0] ? buffers[1] : buffers[0];
            run_layer(layer, y, target, n_layers, y_stride, stride_);
            y = target;
            y_stride = stride_;
        }

        // each layer's cell shares, then its cells below threshold emptied and their energy given to the others
        float* o = out;
        for (std::size_t l = 0; l < n_layers; ++l) {
            const float* logits = y + l * y_stride;
            const float* log_share = cell_log_share_.data() + l * w;
            const float* noise = cell_noise_ ? z + shower_ + n_layers * shape_ + l * w : nullptr;
            const std::size_t size = sizes_[l];
            float most = size < w ? -1.0e4f : -std::numeric_limits<float>::infinity();  // the padding slots' logit
            for (std::size_t j = 0; j < size; ++j) {
                float logit = logits[j];
                if (cell_noise_) {
                    const float b = logits[w + j];  // softplus(b), written as NumPy's runtime does
                    logit += (std::max(b, 0.0f) + std::log1p(std::exp(-std::fabs(b)))) * noise[j];
                }
                row[j] = log_share[j] + logit;
                most = std::max(most, row[j]);
            }
            for (std::size_t j = 0; j < size; ++j) row[j] = std::exp(row[j] - most);
            std::fill(row + size, row + w, std::exp(-1.0e4f - most));  // 0 but for absurd logits; one exp
            const float row_sum = numpy_sum(row, w);
            float largest = -std::numeric_limits<float>::infinity();
            for (std::size_t j = 0; j < w; ++j) {
                row[j] = layer_energy[l] * (row[j] / row_sum);
                cells[j] = row[j] * energy;  // MeV
                largest = std::max(largest, cells[j]);
            }
            const float threshold = threshold_[l];
            const bool layer_above = numpy_sum(cells, w) >= threshold;
            for (std::size_t j = 0; j < w; ++j) {
                const bool keep = cells[j] >= threshold || (cells[j] == largest && layer_above);
                kept[j] = keep ? row[j] : 0.0f;
            }
            const float factor = numpy_sum(row, w) / std::max(numpy_sum(kept, w), 1e-30f);
            for (std::size_t j = 0; j < size; ++j) *o++ = kept[j] * factor;
        }
    }
};

inline std::unique_ptr<Stage> make_stage(const json::Value& d, std::size_t index, const std::string& source,
                                         HeadContext& h) {
    const json::Value* type = d.is_object() ? d.find("type") : nullptr;
    const std::string kind = type != nullptr && type->type == json::Type::string ? type->text : "";
    const Reader r{source, "head stage " + std::to_string(index) + " (" + kind + ")"};
    if (kind == "gaussian_path") return std::make_unique<GaussianPath>(d, r, h);
    if (kind == "cell_noise") return std::make_unique<CellNoise>(d, r, h);
    if (kind == "shower_features") return std::make_unique<ShowerFeatures>(d, r, h);
    if (kind == "cell_fluctuations") return std::make_unique<CellFluctuations>(d, r, h);
    if (kind == "layer_calibration") return std::make_unique<LayerCalibration>(d, r, h);
    if (kind == "response_calibration") return std::make_unique<ResponseCalibration>(d, r, h);
    if (kind == "image_network") return std::make_unique<ImageNetwork>(d, r, h);
    if (kind == "layered_shower") return std::make_unique<LayeredShower>(d, r, h);
    throw std::runtime_error(source + ": head stage " + std::to_string(index) + ": unknown type " +
                             (type == nullptr ? std::string("(none)") : quoted(*type)) +
                             " (gaussian_path, cell_noise, shower_features, cell_fluctuations, layer_calibration, "
                             "response_calibration, image_network, layered_shower)");
}

// ------------------------------------------------------------------- inverse preprocessing

struct InverseStage {
    enum Kind { energy_normalize, log, logit, standardize } kind = energy_normalize;
    double value = 1.0;       // scale, eps or alpha
    double zero_below = 0.0;  // decoded values below this are rounding noise around an exact 0
    std::vector<double> mean, std;
};

// The stages of a transform (a Pipeline's flattened), in the order they were applied.
inline void read_transform(const json::Value& d, const Reader& r, std::vector<InverseStage>& out) {
    const std::string type = r.string(r.get(d, "type"), "transform type");
    const double ulps = 256.0 * std::numeric_limits<double>::epsilon();
    auto param = [&](const char* key, double fallback) {
        const json::Value* v = d.find(key);
        return v == nullptr ? fallback : r.number(*v, std::string("transform ") + type + "." + key);
    };
    InverseStage s;
    if (type == "Pipeline") {
        const json::Value& stages = r.get(d, "stages");
        if (!stages.is_array() || !stages.numbers.empty()) r.fail("transform Pipeline: 'stages' must be a list of transforms");
        for (const json::Value& stage : stages.items) read_transform(stage, r, out);
        return;
    } else if (type == "EnergyNormalize") {
        s.kind = InverseStage::energy_normalize;
        s.value = param("scale", 1.0);
        if (!(s.value > 0)) r.fail("transform EnergyNormalize: scale must be > 0");
    } else if (type == "LogTransform") {
        s.kind = InverseStage::log;
        s.value = param("eps", 1e-6);
        if (!(s.value > 0)) r.fail("transform LogTransform: eps must be > 0");
        s.zero_below = ulps * s.value;
    } else if (type == "LogitTransform") {
        s.kind = InverseStage::logit;
        s.value = param("alpha", 1e-6);
        if (!(s.value > 0 && s.value < 0.5)) r.fail("transform LogitTransform: alpha must be in (0, 0.5)");
        s.zero_below = ulps * s.value / (1.0 - 2.0 * s.value);
    } else if (type == "Standardize") {
        s.kind = InverseStage::standardize;
        const json::Value* mean = d.find("mean");
        const json::Value* deviation = d.find("std");
        if (mean == nullptr || deviation == nullptr || mean->is_null() || deviation->is_null())
            r.fail("transform Standardize has no fitted mean and std");
        s.mean = r.doubles(*mean, "transform Standardize.mean");
        s.std = r.doubles(*deviation, "transform Standardize.std");
        if (s.mean.size() != s.std.size()) r.fail("transform Standardize: mean and std must have one length");
    } else if (type == "LayerFractions") {
        r.fail("transform LayerFractions is not supported: its inverse needs the geometry's layer slices, which "
               "the file does not carry (train with another preprocessing, or use hepgan's Python runtime)");
    } else {
        r.fail("unknown transform '" + type + "' (Pipeline, EnergyNormalize, LogTransform, LogitTransform, Standardize)");
    }
    out.push_back(s);
}

// --------------------------------------------------------------------------------- model

enum class Encoding { log, linear, passed_through };

// Everything read from the file; immutable once loaded, so copies of a Generator share it.
struct Model {
    std::string source, kind, geometry;
    std::size_t latent_dim = 0, network_latent = 0, n_outputs = 0, n_classes = 0, n_inputs = 0;
    std::vector<std::size_t> sample_shape;
    std::vector<std::string> condition_names;
    std::vector<std::size_t> condition_widths;
    std::vector<Encoding> encodings;
    std::vector<std::string> range_names;
    std::vector<std::pair<double, double>> ranges;
    std::size_t n_condition_values = 0;
    long energy_column = -1;  // of the energy among the condition values, for EnergyNormalize
    bool takes_conditions = false, images = false;
    std::vector<double> offset, scale;
    std::vector<Layer> layers;
    OutAct output_activation = OutAct::none;
    std::vector<std::unique_ptr<Stage>> head;
    std::vector<InverseStage> transform;
    std::size_t buffer_size = 0, work_size = 0, network_width = 0;
};

inline std::shared_ptr<const Model> load_model(const std::string& text, const std::string& source) {
    auto m = std::make_shared<Model>();
    m->source = source;
    const Reader r{source, ""};
    json::Value spec;
    try {
        spec = json::parse(text);
    } catch (const std::runtime_error& e) {
        r.fail(e.what());
    }
    if (!spec.is_object()) r.fail("the file is not a JSON object");
    for (const char* key : {"inputs", "layers", "outputs", "hepgan", "hepgan_postprocess"})
        if (spec.find(key) == nullptr)
            r.fail(std::string("missing section '") + key + "' (not an lwtnn file exported by hepgan?)");

    // the hepgan section: what the model takes and makes
    const json::Value& info = *spec.find("hepgan");
    const json::Value* format = info.is_object() ? info.find("format") : nullptr;
    if (format == nullptr || format->type != json::Type::string || format->text != "hepgan-export-1")
        r.fail("not a hepgan export (expected metadata format 'hepgan-export-1')");
    const Reader ri = r.at("hepgan metadata");
    m->kind = ri.string(ri.get(info, "kind"), "kind");
    if (m->kind != "showers" && m->kind != "images") ri.fail("unknown kind '" + m->kind + "'");
    const json::Value& geometry = ri.get(info, "geometry");
    m->geometry = geometry.is_null() ? "" : ri.string(geometry, "geometry");
    m->latent_dim = ri.count(ri.get(info, "latent_dim"), "latent_dim");
    m->n_outputs = 1;
    for (double s : ri.doubles(ri.get(info, "sample_shape"), "sample_shape")) {
        if (s < 1 || s != std::floor(s)) ri.fail("sample_shape must hold positive integers");
        m->sample_shape.push_back(static_cast<std::size_t>(s));
        m->n_outputs *= static_cast<std::size_t>(s);
    }
    const json::Value& encoder = ri.get(info, "encoder");
    const json::Value& names = ri.get(encoder, "names");
    if (!names.is_array() || !names.numbers.empty()) ri.fail("encoder.names must be a list of names");
    for (const json::Value& n : names.items) m->condition_names.push_back(ri.string(n, "encoder.names"));
    m->n_classes = ri.count(ri.get(encoder, "n_classes"), "encoder.n_classes");
    const json::Value* widths = encoder.find("widths");
    std::vector<double> w = widths == nullptr ? std::vector<double>() : ri.doubles(*widths, "encoder.widths");
    if (w.empty()) w.assign(m->condition_names.size(), 1.0);
    if (w.size() != m->condition_names.size()) ri.fail("encoder.widths must have a width per condition");
    const json::Value* described = info.find("inputs");  // name, width, unit, encoding of each condition
    for (std::size_t i = 0; i < w.size(); ++i) {
        const std::string& name = m->condition_names[i];
        if (w[i] < 0 || w[i] != std::floor(w[i])) ri.fail("encoder.widths must hold non-negative integers");
        m->condition_widths.push_back(static_cast<std::size_t>(w[i]));
        std::string encoding = name == "energy" ? "log" : (name == "alignment" || name == "impact_offset") ? "categorical" : "linear";
        if (described != nullptr && described->is_array() && i < described->items.size())
            if (const json::Value* e = described->items[i].find("encoding"))
                encoding = ri.string(*e, "inputs.encoding");
        if (encoding == "log") m->encodings.push_back(Encoding::log);
        else if (encoding == "linear") m->encodings.push_back(Encoding::linear);
        else if (encoding == "categorical") m->encodings.push_back(Encoding::passed_through);
        else ri.fail("condition '" + name + "': unknown encoding '" + encoding + "'");
        if (name == "energy") m->energy_column = static_cast<long>(m->n_condition_values);
        m->n_condition_values += m->condition_widths.back();
    }
    if (const json::Value* ranges = info.find("trained_range")) {
        if (ranges->is_object()) {
            for (std::size_t i = 0; i < ranges->keys.size(); ++i) {
                const std::vector<double> lohi = ri.doubles(ranges->values[i], "trained_range");
                if (lohi.size() != 2) ri.fail("trained_range values must be [low, high]");
                m->range_names.push_back(ranges->keys[i]);
                m->ranges.emplace_back(lohi[0], lohi[1]);
            }
        }
    }

    // lwtnn's part: input scaling and layers
    const json::Value& inputs = *spec.find("inputs");
    if (!inputs.is_array() || !inputs.numbers.empty()) r.fail("'inputs' must be a list of {name, offset, scale}");
    for (const json::Value& in : inputs.items) {
        const json::Value* o = in.is_object() ? in.find("offset") : nullptr;
        const json::Value* s = in.is_object() ? in.find("scale") : nullptr;
        if (o == nullptr || s == nullptr || !o->is_number() || !s->is_number())
            r.fail("'inputs' must be a list of {name, offset, scale}");
        m->offset.push_back(o->number);
        m->scale.push_back(s->number);
    }
    m->n_inputs = m->offset.size();
    std::size_t width = m->n_inputs, widest = width;
    m->layers = read_layers(*spec.find("layers"), r, "layer ", width, widest);
    m->network_width = width;

    // hepgan's part: what lwtnn cannot express
    const json::Value& post = *spec.find("hepgan_postprocess");
    if (!post.is_object()) r.fail("hepgan_postprocess must be an object");
    const json::Value* version = post.find("version");
    const double v = version == nullptr ? 1.0 : version->is_number() ? version->number : -1.0;
    if (v != 1.0 && v != 2.0)
        r.fail("hepgan_postprocess version " + (version == nullptr ? std::string("?") : quoted(*version)) +
               " is not supported by this reader (1, 2); use the hepgan_generator.hpp of the hepgan that exported it");
    const json::Value* nl = post.find("network_latent");
    m->network_latent = nl == nullptr ? m->latent_dim : r.count(*nl, "hepgan_postprocess.network_latent");
    if (m->network_latent > m->latent_dim) r.fail("network_latent is larger than the latent size");
    m->takes_conditions = m->n_inputs > m->network_latent;
    const std::size_t expected = m->network_latent + (m->takes_conditions ? m->n_condition_values + m->n_classes : 0);
    if (m->n_inputs != expected)
        r.fail(std::to_string(m->n_inputs) + " inputs do not match " + std::to_string(m->network_latent) +
               " latent values plus the conditions (" + std::to_string(m->n_condition_values) + " values, " +
               std::to_string(m->n_classes) + " classes)");
    const json::Value& outputs = *spec.find("outputs");
    const json::Value* head = post.find("head");
    const bool has_head = head != nullptr && head->is_array() && head->size() > 0;
    if (width != outputs.size() || (!has_head && width != m->n_outputs))
        r.fail("the network gives " + std::to_string(width) + " outputs but " + std::to_string(m->n_outputs) +
               " are expected");
    if (const json::Value* a = post.find("output_activation")) {
        if (!a->is_null()) {
            const std::string name = a->type == json::Type::string ? a->text : quoted(*a);
            if (name == "softplus") m->output_activation = OutAct::softplus;
            else if (name == "exp") m->output_activation = OutAct::exp;
            else if (name == "abs") m->output_activation = OutAct::abs;
            else if (name == "softsign") m->output_activation = OutAct::softsign;
            else if (name == "gauss") m->output_activation = OutAct::gauss;
            else r.fail("unknown output_activation '" + name + "' (softplus, exp, abs, softsign, gauss)");
        }
    }
    if (has_head) {
        if (!head->numbers.empty()) r.fail("hepgan_postprocess.head must be a list of stages");
        HeadContext h;
        h.network_latent = m->network_latent;
        h.latent_dim = m->latent_dim;
        h.n_cond = m->takes_conditions ? m->n_inputs - m->network_latent : 0;
        h.width = width;
        for (std::size_t i = 0; i < head->items.size(); ++i) {
            m->head.push_back(make_stage(head->items[i], i, source, h));
            widest = std::max(widest, h.width);
            m->work_size = std::max(m->work_size, m->head.back()->work_size);
        }
        if (h.width != m->n_outputs)
            r.fail("the head gives " + std::to_string(h.width) + " cells but " + std::to_string(m->n_outputs) + " are expected");
    }
    const json::Value* images = post.find("images");
    m->images = images != nullptr && images->type == json::Type::boolean && images->flag;
    const json::Value* transform = post.find("transform");
    if (transform != nullptr && !transform->is_null()) {
        read_transform(*transform, r, m->transform);
        for (const InverseStage& s : m->transform) {
            if (s.kind == InverseStage::standardize && s.mean.size() != m->n_outputs)
                r.fail("transform Standardize has " + std::to_string(s.mean.size()) + " columns but the model makes " +
                       std::to_string(m->n_outputs));
            if (s.kind == InverseStage::energy_normalize && m->energy_column < 0)
                r.fail("the preprocessing needs the incident energy but the model is not conditioned on it");
        }
    }
    m->buffer_size = widest;
    return m;
}

struct Workspace {
    std::vector<float> inputs, a, b, work;
    void reserve(const Model& m) {
        inputs.assign(std::max<std::size_t>(m.n_inputs, 1), 0.0f);
        a.assign(m.buffer_size, 0.0f);
        b.assign(m.buffer_size, 0.0f);
        work.assign(std::max<std::size_t>(m.work_size, 1), 0.0f);
    }
};

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open the file (no such file, or not readable)");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw std::runtime_error(path + ": error while reading the file");
    return text.str();
}

}  // namespace detail

// ------------------------------------------------------------------------------ Generator

class Generator {
public:
    // Loads an lwtnn JSON file written by `hepgan export --format lwtnn`; a std::runtime_error
    // naming the file and the problem when it cannot be used.
    explicit Generator(const std::string& path) : Generator(detail::load_model(detail::read_file(path), path)) {}

    // The same from JSON text already in memory; `source` names it in error messages.
    static Generator from_json(const std::string& text, const std::string& source = "<memory>") {
        return Generator(detail::load_model(text, source));
    }

    // Latent values per call: all of them standard normal, drawn by the caller.
    std::size_t latent_dim() const { return model_->latent_dim; }
    // Values per call: cells in MeV, or pixels 0..255 for image models (images()).
    std::size_t n_outputs() const { return model_->n_outputs; }
    const std::vector<std::size_t>& sample_shape() const { return model_->sample_shape; }
    bool images() const { return model_->images; }
    const std::string& kind() const { return model_->kind; }          // "showers" or "images"
    const std::string& geometry() const { return model_->geometry; }  // empty for images
    // Conditions, in the order generate() takes their values (energy in MeV; a condition of
    // width k, such as a one-hot alignment, takes k values).
    const std::vector<std::string>& condition_names() const { return model_->condition_names; }
    const std::vector<std::size_t>& condition_widths() const { return model_->condition_widths; }
    std::size_t n_condition_values() const { return model_->n_condition_values; }
    // Classes of a class-conditional model (0: none, and generate() ignores the label).
    std::size_t n_classes() const { return model_->n_classes; }
    // [low, high] of a condition in the training data (energy in MeV); false when unknown.
    bool trained_range(const std::string& name, double& low, double& high) const {
        for (std::size_t i = 0; i < model_->range_names.size(); ++i) {
            if (model_->range_names[i] == name) {
                low = model_->ranges[i].first;
                high = model_->ranges[i].second;
                return true;
            }
        }
        return false;
    }

    // One sample: z[latent_dim()], conditions[n_condition_values()] in physical units, the class
    // label (ignored when n_classes() is 0), out[n_outputs()]. Allocates nothing.
    void generate(const float* z, const double* conditions, int label, double* out) {
        const detail::Model& m = *model_;
        float* x = work_.inputs.data();
        for (std::size_t i = 0; i < m.network_latent; ++i)
            x[i] = static_cast<float>((static_cast<double>(z[i]) + m.offset[i]) * m.scale[i]);
        std::size_t k = m.network_latent, col = 0;
        for (std::size_t j = 0; j < m.condition_names.size(); ++j) {
            for (std::size_t w = 0; w < m.condition_widths[j]; ++w, ++col) {
                double value = conditions[col];
                if (m.encodings[j] == detail::Encoding::log) {
                    if (!(value > 0.0) || !std::isfinite(value))
                        throw std::invalid_argument("condition '" + m.condition_names[j] +
                                                    "' must be positive and finite to be log-scaled, got " + detail::text(value));
                    value = std::log(value);
                }
                if (m.takes_conditions) {
                    x[k] = static_cast<float>((value + m.offset[k]) * m.scale[k]);
                    ++k;
                }
            }
        }
        if (m.n_classes) {
            if (label < 0 || static_cast<std::size_t>(label) >= m.n_classes)
                throw std::invalid_argument("label must be an integer in 0.." + std::to_string(m.n_classes - 1) +
                                            ", got " + std::to_string(label));
            if (m.takes_conditions) {
                for (std::size_t j = 0; j < m.n_classes; ++j, ++k)
                    x[k] = static_cast<float>(((j == static_cast<std::size_t>(label) ? 1.0 : 0.0) + m.offset[k]) * m.scale[k]);
            }
        }
        // x keeps the encoded conditions for the head; network and head alternate between a and b
        const float* c = x + m.network_latent;
        float* v = x;
        for (const detail::Layer& layer : m.layers) {
            float* target = v == work_.a.data() ? work_.b.data() : work_.a.data();
            detail::run_layer(layer, v, target);
            v = target;
        }
        if (v == x) {  // no layers at all
            std::copy(x, x + m.network_width, work_.a.data());
            v = work_.a.data();
        }
        detail::output_activate(m.output_activation, v, m.network_width);
        for (const auto& stage : m.head) {
            float* target = v == work_.a.data() ? work_.b.data() : work_.a.data();
            stage->run(v, target, z, c, work_.work.data());
            v = target;
        }
        finish(v, conditions, out);
    }

    std::vector<double> generate(const std::vector<float>& z, const std::vector<double>& conditions, int label = -1) {
        if (z.size() != latent_dim())
            throw std::invalid_argument("z must have " + std::to_string(latent_dim()) + " values, got " + std::to_string(z.size()));
        if (conditions.size() != n_condition_values())
            throw std::invalid_argument("expected " + std::to_string(n_condition_values()) + " condition values, got " +
                                        std::to_string(conditions.size()));
        std::vector<double> out(n_outputs());
        generate(z.data(), conditions.data(), label, out.data());
        return out;
    }

    // n samples, row after row: z (n, latent_dim), conditions (n, n_condition_values),
    // labels (n; may be null for models without classes), out (n, n_outputs).
    void generate_batch(std::size_t n, const float* z, const double* conditions, const int* labels, double* out) {
        for (std::size_t i = 0; i < n; ++i)
            generate(z + i * latent_dim(), conditions + i * n_condition_values(), labels ? labels[i] : -1,
                     out + i * n_outputs());
    }

private:
    explicit Generator(std::shared_ptr<const detail::Model> model) : model_(std::move(model)) { work_.reserve(*model_); }

    // Network/head output (float) -> cells in MeV or pixels, in double.
    void finish(const float* v, const double* conditions, double* out) const {
        const detail::Model& m = *model_;
        const std::size_t n = m.n_outputs;
        for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<double>(v[i]);
        if (m.images) {
            for (std::size_t i = 0; i < n; ++i) out[i] = std::min(std::max((out[i] + 1.0) * 127.5, 0.0), 255.0);
            return;
        }
        if (m.transform.empty()) return;
        for (std::size_t i = 0; i < n; ++i)
            if (!std::isfinite(out[i]))
                throw std::runtime_error(m.source + ": the generator's output " + std::to_string(i) + " is not finite");
        for (auto s = m.transform.rbegin(); s != m.transform.rend(); ++s) {
            switch (s->kind) {
                case detail::InverseStage::energy_normalize: {
                    const double e = conditions[m.energy_column];
                    for (std::size_t i = 0; i < n; ++i) out[i] = out[i] * e / s->value;
                    break;
                }
                case detail::InverseStage::log:
                    for (std::size_t i = 0; i < n; ++i) {
                        const double x = std::exp(out[i]) - s->value;
                        if (!std::isfinite(x))
                            throw std::runtime_error(m.source + ": LogTransform inverse overflows exp (" +
                                                     detail::text(out[i]) + ")");
                        out[i] = x < s->zero_below ? 0.0 : x;
                    }
                    break;
                case detail::InverseStage::logit:
                    for (std::size_t i = 0; i < n; ++i) {
                        const double y = out[i], e = std::exp(-std::fabs(y));
                        const double p = y >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
                        const double x = std::min((p - s->value) / (1.0 - 2.0 * s->value), 1.0);
                        out[i] = x < s->zero_below ? 0.0 : x;
                    }
                    break;
                case detail::InverseStage::standardize:
                    for (std::size_t i = 0; i < n; ++i) out[i] = out[i] * s->std[i] + s->mean[i];
                    break;
            }
        }
    }

    std::shared_ptr<const detail::Model> model_;
    detail::Workspace work_;
};

}  // namespace hepgan

#endif  // HEPGAN_GENERATOR_HPP
