// generate: runs a hepgan lwtnn export on inputs from a text file.
//
//   generate MODEL.json INPUT.txt OUTPUT.txt    one output line per input line
//   generate --bench N MODEL.json INPUT.txt     times N batch-1 calls on INPUT's first line
//
// An input line holds one sample's latent values, then its condition values in the order of
// the model's conditions (energy in MeV), then the class label if the model has classes.
// Blank lines and lines starting with '#' are skipped.
#include "hepgan_generator.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <locale>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Sample {
    std::vector<float> z;
    std::vector<double> conditions;
    int label = -1;
};

std::vector<Sample> read_inputs(const std::string& path, const hepgan::Generator& gen) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path + ": cannot open the input file");
    const std::size_t classes = gen.n_classes() ? 1 : 0;
    const std::size_t expected = gen.latent_dim() + gen.n_condition_values() + classes;
    std::vector<Sample> samples;
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        const std::size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line[first] == '#') continue;
        std::istringstream fields(line);
        fields.imbue(std::locale::classic());
        std::vector<double> values;
        double v = 0.0;
        while (fields >> v) values.push_back(v);
        if (!fields.eof() || values.size() != expected) {
            std::ostringstream names;
            for (std::size_t i = 0; i < gen.condition_names().size(); ++i)
                names << (i ? ", " : "") << gen.condition_names()[i] << " (" << gen.condition_widths()[i] << ")";
            throw std::runtime_error(path + ": line " + std::to_string(number) + ": expected " + std::to_string(expected) +
                                     " numbers (" + std::to_string(gen.latent_dim()) + " latent values, then " +
                                     (names.str().empty() ? std::string("no conditions") : names.str()) +
                                     (classes ? ", label" : "") + ")");
        }
        Sample s;
        s.z.assign(values.begin(), values.begin() + static_cast<long>(gen.latent_dim()));
        s.conditions.assign(values.begin() + static_cast<long>(gen.latent_dim()),
                            values.begin() + static_cast<long>(gen.latent_dim() + gen.n_condition_values()));
        if (classes) s.label = static_cast<int>(values.back());
        samples.push_back(std::move(s));
    }
    return samples;
}

int run(const std::string& model, const std::string& input, const std::string& output) {
    hepgan::Generator gen(model);
    const std::vector<Sample> samples = read_inputs(input, gen);
    std::FILE* out = std::fopen(output.c_str(), "w");
    if (out == nullptr) throw std::runtime_error(output + ": cannot open the output file for writing");
    std::vector<double> values(gen.n_outputs());
    for (const Sample& s : samples) {
        gen.generate(s.z.data(), s.conditions.data(), s.label, values.data());
        for (std::size_t i = 0; i < values.size(); ++i) std::fprintf(out, i ? " %.9g" : "%.9g", values[i]);
        std::fputc('\n', out);
    }
    if (std::fclose(out) != 0) throw std::runtime_error(output + ": error while writing");
    return 0;
}

// Median over a few repeats of the mean time of n batch-1 calls.
int bench(long n, const std::string& model, const std::string& input) {
    hepgan::Generator gen(model);
    const std::vector<Sample> samples = read_inputs(input, gen);
    if (samples.empty()) throw std::runtime_error(input + ": no input line to time");
    const Sample& s = samples.front();
    std::vector<double> values(gen.n_outputs());
    double sink = 0.0;
    for (long i = 0; i < std::min(n, 100L); ++i) gen.generate(s.z.data(), s.conditions.data(), s.label, values.data());
    std::vector<double> per_call;
    for (int repeat = 0; repeat < 7; ++repeat) {
        const auto start = std::chrono::steady_clock::now();
        for (long i = 0; i < n; ++i) {
            gen.generate(s.z.data(), s.conditions.data(), s.label, values.data());
            sink += values[0];
        }
        const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
        per_call.push_back(took.count() / static_cast<double>(n));
    }
    std::sort(per_call.begin(), per_call.end());
    std::printf("%.2f us per call (median of %zu repeats of %ld batch-1 calls; min %.2f, max %.2f)%s\n",
                per_call[per_call.size() / 2], per_call.size(), n, per_call.front(), per_call.back(),
                sink == 0.12345 ? " " : "");
    return 0;
}

int usage() {
    std::fprintf(stderr,
                 "usage: generate MODEL.json INPUT.txt OUTPUT.txt\n"
                 "       generate --bench N MODEL.json INPUT.txt\n"
                 "Each INPUT line: the latent values, the condition values (energy in MeV), the label if any.\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (args.size() == 4 && args[0] == "--bench") {
            char* end = nullptr;
            const long n = std::strtol(args[1].c_str(), &end, 10);
            if (*end != '\0' || n < 1) return usage();
            return bench(n, args[2], args[3]);
        }
        if (args.size() == 3 && args[0].rfind("--", 0) != 0) return run(args[0], args[1], args[2]);
        return usage();
    } catch (const std::exception& e) {
        std::string message = e.what();
        std::replace(message.begin(), message.end(), '\n', ' ');
        std::fprintf(stderr, "error: %s\n", message.c_str());
        return 1;
    }
}
