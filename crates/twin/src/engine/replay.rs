//! CityFlow's replay text format, so CityFlow's own viewer can play a run: one line per
//! step, `x y heading id laneChangeDir length width,` per vehicle, `;`, then per road that
//! does not end at a virtual intersection `roadId` and ` g`/` r`/` i` per lane, `,`.
//! Vehicle ids follow CityFlow's: `flow_<flow index>_<n>`, `n` counting that flow's
//! vehicles from 0.

use std::fmt::Write;

use super::Sim;

impl Sim {
    /// Append the current step's replay line (with trailing newline) to `out`.
    pub fn write_replay_line(&self, out: &mut String) {
        self.for_each_vehicle(|v| {
            let _ = write!(
                out,
                "{:.2} {:.2} {:.4} flow_{}_{} 0 {} {},",
                v.pos.x, v.pos.y, v.heading, v.flow, v.seq, v.length, v.width
            );
        });
        out.push(';');
        for road in &self.net.roads {
            let end = &self.net.intersections[road.to.idx()];
            if end.is_virtual {
                continue;
            }
            out.push_str(&road.name);
            let implicit = end.phases.len() <= 1;
            for l in road.lanes() {
                let c = if implicit {
                    'i'
                } else if self.net.lanes[l.idx()].lane_links.iter().all(|ll| self.green[self.link_movement[ll.idx()] as usize]) {
                    'g'
                } else {
                    'r'
                };
                out.push(' ');
                out.push(c);
            }
            out.push(',');
        }
        out.push('\n');
    }
}

/// The static roadnet file CityFlow's viewer loads next to a replay (`roadnetLogFile`):
/// `{"static":{"nodes":[...],"edges":[...]}}`.
pub fn roadnet_log(net: &city::Network) -> String {
    use serde_json::json;
    let nodes: Vec<_> = net
        .intersections
        .iter()
        .map(|i| {
            let (x, y, w) = (i.point.x, i.point.y, i.width.max(1.0));
            let outline = if i.is_virtual { vec![] } else { vec![x - w, y - w, x + w, y - w, x + w, y + w, x - w, y + w] };
            json!({"id": i.name, "point": [x, y], "virtual": i.is_virtual, "width": i.width, "outline": outline})
        })
        .collect();
    let edges: Vec<_> = net
        .roads
        .iter()
        .map(|r| {
            let widths: Vec<f64> = r.lanes().map(|l| net.lane(l).width).collect();
            json!({
                "id": r.name,
                "from": net.intersection(r.from).name,
                "to": net.intersection(r.to).name,
                "points": r.points.iter().map(|p| [p.x, p.y]).collect::<Vec<_>>(),
                "nLane": r.lane_count,
                "laneWidths": widths,
            })
        })
        .collect();
    json!({"static": {"nodes": nodes, "edges": edges}}).to_string()
}
