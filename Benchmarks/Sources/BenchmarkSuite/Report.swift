import Foundation

/// One line of the table and of results/latest.json.
struct Row: Codable {
    let workload: String
    let implementation: String
    let unit: String
    let median: Double
    let min: Double
    let max: Double
    /// The implementation this row is compared with; absent on baseline rows.
    let baseline: String?
    /// The baseline's median.
    let baseline_median: Double?
    /// The median, over the rounds, of this implementation's figure over the baseline's in the
    /// same round (the two run one after the other): what the target is judged on. A machine
    /// that slows down or speeds up between rounds moves both figures of a round together, and
    /// leaves their ratio alone.
    let ratio: Double?
    /// median / the baseline's median, for reference: moved by such drift.
    let ratio_of_medians: Double?
    let target: String?
    let target_met: Bool?
}

/// What results/latest.json holds.
struct Document: Codable {
    let date: String
    let machine: String
    let rows: [Row]
}

/// Draws results/latest.svg again from results/latest.json (after a change to the chart alone).
func redrawChart(in directory: URL) throws {
    let document = try JSONDecoder().decode(
        Document.self, from: Data(contentsOf: directory.appendingPathComponent("latest.json")))
    try chart(document.rows, date: document.date, machine: document.machine)
        .write(to: directory.appendingPathComponent("latest.svg"), atomically: true, encoding: .utf8)
}

func makeRows(_ workloads: [Workload], _ samples: Samples) -> [Row] {
    var rows: [Row] = []
    for workload in workloads {
        let compared = Set(workload.comparisons.map(\.implementation))
        var names = workload.implementations.map(\.name)
        if names.isEmpty {
            // A sibling workload: figures reported by another workload's runs.
            names = Array(samples.values[workload.name]?.keys ?? [:].keys).sorted()
        }
        func statistics(_ name: String) -> (median: Double, min: Double, max: Double)? {
            let values = samples.of(workload.name, name).filter { !$0.isNaN }.sorted()
            guard !values.isEmpty else { return nil }
            return (median(values), values.first!, values.last!)
        }
        for name in names where !compared.contains(name) {
            guard let s = statistics(name) else { continue }
            rows.append(Row(workload: workload.name, implementation: name, unit: workload.unit, median: s.median,
                            min: s.min, max: s.max, baseline: nil, baseline_median: nil, ratio: nil,
                            ratio_of_medians: nil, target: nil, target_met: nil))
        }
        for comparison in workload.comparisons {
            guard let mine = statistics(comparison.implementation), let theirs = statistics(comparison.baseline)
            else { continue }
            let ratios = samples.ratios(workload.name, comparison.implementation, to: comparison.baseline).sorted()
            let ratioOfMedians = mine.median / theirs.median
            let ratio = ratios.isEmpty ? ratioOfMedians : median(ratios)
            rows.append(Row(
                workload: workload.name, implementation: comparison.implementation, unit: workload.unit,
                median: mine.median, min: mine.min, max: mine.max, baseline: comparison.baseline,
                baseline_median: theirs.median, ratio: ratio, ratio_of_medians: ratioOfMedians,
                target: comparison.target?.text, target_met: comparison.target.map { $0.holds(ratio, mine.median) }))
        }
    }
    return rows
}

/// The middle one of `sorted` values (the upper of the two middle ones for an even count).
func median(_ sorted: [Double]) -> Double {
    sorted[sorted.count / 2]
}

func printTable(_ rows: [Row], rounds: Int, echoRounds: Int, microRounds: Int, elapsed: TimeInterval) {
    print("Greenloop benchmarks: \(machineDescription()); \(rounds) round(s) each (echo servers \(echoRounds), "
          + "greenlet micro-benchmarks \(microRounds)), alternating; "
          + "median [min–max]; ratio: median of the rounds' ratios (in brackets: of the medians); "
          + "servers on CPU 0, load on CPU 1; \(Int(elapsed)) s")
    let header = ["workload", "implementation", "median", "range", "unit", "vs", "ratio", "target"]
    var lines = [header]
    for row in rows {
        let met = row.target_met.map { $0 ? "met" : "MISSED" } ?? ""
        lines.append([
            row.workload, row.implementation, format(row.median), "\(format(row.min))–\(format(row.max))", row.unit,
            row.baseline ?? "",
            row.ratio.map { format($0) + "×" + (row.ratio_of_medians.map { " (\(format($0))×)" } ?? "") } ?? "",
            row.target.map { "\($0): \(met)" } ?? "",
        ])
    }
    let widths = header.indices.map { column in lines.map { $0[column].count }.max() ?? 0 }
    for line in lines {
        print(line.enumerated().map { $1.padding(toLength: widths[$0] + 2, withPad: " ", startingAt: 0) }.joined())
    }
}

func machineDescription() -> String {
    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
        .split(separator: "\n").first { $0.hasPrefix("model name") }?
        .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
    let memory = ProcessInfo.processInfo.physicalMemory / (1 << 30)
    return "\(ProcessInfo.processInfo.activeProcessorCount) cores (\(cpu)), \(memory) GiB, "
        + "Linux \(ProcessInfo.processInfo.operatingSystemVersionString)"
}

func writeResults(_ rows: [Row], to directory: URL) throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let date = ISO8601DateFormatter().string(from: Date())
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    try encoder.encode(Document(date: date, machine: machineDescription(), rows: rows))
        .write(to: directory.appendingPathComponent("latest.json"))
    try chart(rows, date: date, machine: machineDescription()).write(to: directory.appendingPathComponent("latest.svg"), atomically: true,
                                      encoding: .utf8)
}

/// A bar per compared row: how many times better than its baseline Greenloop's figure is (the
/// baseline's over Greenloop's for costs, Greenloop's over the baseline's for throughput), on a log
/// scale with 1× in the middle: right of it Greenloop is ahead. Green where the target holds, red
/// where it does not, grey without one.
func chart(_ rows: [Row], date: String, machine: String) -> String {
    let compared = rows.filter { $0.ratio != nil }
    let rowHeight = 18, top = 70, labelWidth = 640, plotWidth = 420
    let height = top + compared.count * rowHeight + 40
    let width = labelWidth + plotWidth + 260
    let lowest = log10(1.0 / 64), highest = log10(64.0)
    func x(_ advantage: Double) -> Double {
        let clamped = Swift.min(Swift.max(log10(advantage), lowest), highest)
        return Double(labelWidth) + (clamped - lowest) / (highest - lowest) * Double(plotWidth)
    }
    func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }
    var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" font-family="sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>
        <text x="10" y="18" font-size="14" font-weight="bold">Greenloop against its baselines: how many times better (log scale; right of 1× Greenloop is ahead)</text>
        <text x="10" y="36">\(escape(date)) · \(escape(machine)) · medians of the rounds' ratios; green: target met, red: missed, grey: no target</text>
        <text x="10" y="54">Costs (time, CPU, memory): the baseline's figure over Greenloop's. Throughput: Greenloop's over the baseline's.</text>

        """
    for ratio in [1.0 / 64, 1.0 / 8, 1, 8, 64] {
        let position = x(ratio)
        let label = ratio < 1 ? "1/\(Int(1 / ratio))×" : "\(Int(ratio))×"
        svg += "<line x1=\"\(position)\" y1=\"\(top - 6)\" x2=\"\(position)\" y2=\"\(height - 30)\" stroke=\"\(ratio == 1 ? "#444" : "#ddd")\"/>\n"
        svg += "<text x=\"\(position)\" y=\"\(height - 16)\" text-anchor=\"middle\">\(label)</text>\n"
    }
    for (index, row) in compared.enumerated() {
        let y = top + index * rowHeight
        let isThroughput = row.unit.hasSuffix("/s")
        let advantage = isThroughput ? row.ratio! : 1 / row.ratio!
        let color = row.target_met.map { $0 ? "#2e9e44" : "#d0342c" } ?? "#999"
        let (start, end) = (x(1), x(advantage))
        svg += "<text x=\"\(labelWidth - 6)\" y=\"\(y + 12)\" text-anchor=\"end\">\(escape("\(row.workload) · \(row.implementation) vs \(row.baseline!)"))</text>\n"
        svg += "<rect x=\"\(Swift.min(start, end))\" y=\"\(y + 3)\" width=\"\(Swift.max(abs(end - start), 1))\" height=\"\(rowHeight - 6)\" fill=\"\(color)\"/>\n"
        svg += "<text x=\"\(Double(labelWidth + plotWidth) + 8)\" y=\"\(y + 12)\">\(escape("\(format(row.median)) vs \(format(row.baseline_median ?? row.median / row.ratio!)) \(row.unit)"))</text>\n"
    }
    svg += "</svg>\n"
    return svg
}
