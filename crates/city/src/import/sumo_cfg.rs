//! SUMO configuration files (`.sumocfg`): which network, route and additional files a
//! scenario is made of, and the few run options the twin honours. Paths are returned as
//! written (relative to the configuration's folder); the caller reads the files.

use super::xml::{elements, At};
use super::ImportError;

/// What a `.sumocfg` says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SumoConfig {
    pub net_file: String,
    /// `route-files`, in order.
    pub route_files: Vec<String>,
    /// `additional-files`, in order (routes, types and traffic-light programs are read
    /// from them; everything else is ignored).
    pub additional_files: Vec<String>,
    pub begin: Option<f64>,
    pub end: Option<f64>,
    /// `time-to-teleport`: seconds a vehicle may be blocked before it jumps ahead
    /// (0 or negative: never).
    pub time_to_teleport: Option<f64>,
    pub seed: Option<u64>,
    /// `step-length`: seconds per simulation step (SUMO's default is 1).
    pub step_length: Option<f64>,
}

/// Parse a `.sumocfg`. Options may be written `<net-file value="..."/>` anywhere under
/// the root (usually inside `<input>`, `<time>`, `<processing>`).
pub fn parse_config(text: &str, file: &str) -> Result<SumoConfig, ImportError> {
    let at = At { file };
    let els = elements(text, file)?;
    let Some(root) = els.first() else { return Err(ImportError::new(file, "line 1", "empty configuration")) };
    if !matches!(root.name.as_str(), "configuration" | "sumoConfiguration") {
        return Err(at.err(root, "not a SUMO configuration: the root element must be <configuration>"));
    }
    let list = |v: &str| v.split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>();
    let mut c = SumoConfig::default();
    let mut net = None;
    for el in &els[1..] {
        let Some(v) = el.get("value") else { continue };
        match el.name.as_str() {
            "net-file" | "n" => net = Some(v.to_string()),
            "route-files" | "r" => c.route_files.extend(list(v)),
            "additional-files" | "a" => c.additional_files.extend(list(v)),
            "begin" | "b" => c.begin = at.num(el, "value")?,
            "end" | "e" => c.end = at.num(el, "value")?,
            "time-to-teleport" => c.time_to_teleport = at.num(el, "value")?,
            "seed" => c.seed = Some(at.index(el, "value")?.unwrap_or(0) as u64),
            "step-length" => {
                let v = at.num(el, "value")?;
                if v.is_some_and(|v| v <= 0.0) {
                    return Err(at.err(el, "value: the step length must be positive"));
                }
                c.step_length = v;
            }
            _ => {}
        }
    }
    c.net_file = net.ok_or_else(|| at.err(root, "no <net-file value=\"...\"/>"))?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_and_options() {
        let c = parse_config(
            r#"<configuration><input><net-file value="a/n.net.xml"/><route-files value="r1.xml,r2.xml"/>
            <additional-files value="t.add.xml, p.xml"/></input><time><begin value="0"/><end value="1800"/><step-length value=".2"/></time>
            <processing><time-to-teleport value="0"/></processing><random_number><seed value="7"/></random_number></configuration>"#,
            "x.sumocfg",
        )
        .unwrap();
        assert_eq!(c.net_file, "a/n.net.xml");
        assert_eq!(c.route_files, vec!["r1.xml", "r2.xml"]);
        assert_eq!(c.additional_files, vec!["t.add.xml", "p.xml"]);
        assert_eq!((c.begin, c.end, c.time_to_teleport, c.seed), (Some(0.0), Some(1800.0), Some(0.0), Some(7)));
        assert_eq!(c.step_length, Some(0.2));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_config("<configuration>\n<end value=\"x\"/></configuration>", "x.sumocfg").unwrap_err();
        assert_eq!(e.to_string(), "x.sumocfg: line 2: <end>: value: expected a number, got \"x\"");
        let e = parse_config("<configuration/>", "x.sumocfg").unwrap_err();
        assert!(e.message.contains("net-file"), "{e}");
        assert!(parse_config("<net/>", "x.sumocfg").unwrap_err().message.contains("root element"));
        let e = parse_config("<configuration><net-file value=\"n\"/><step-length value=\"0\"/></configuration>", "x.sumocfg")
            .unwrap_err();
        assert!(e.message.contains("step length must be positive"), "{e}");
    }
}
