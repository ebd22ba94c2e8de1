//! Go's `text/tabwriter` as the docker CLI configures it: tab-terminated cells, columns as
//! wide as their widest cell plus padding (never under a minimum), widths counted in
//! characters, the last cell of a line never padded. A line without tabs ends a column
//! block, as in Go. Pure text in, text out: no terminal, no daemon.

/// A tabwriter with Go's semantics for `AlignLeft` and a space pad character.
pub struct TabWriter {
    minwidth: usize,
    padding: usize,
    /// Lines of the current block, each a list of cells (the last one unterminated).
    lines: Vec<Vec<String>>,
    /// The unfinished line's cells and the unfinished cell.
    cells: Vec<String>,
    cell: String,
    out: String,
}

impl TabWriter {
    pub fn new(minwidth: usize, padding: usize) -> TabWriter {
        TabWriter {
            minwidth,
            padding,
            lines: Vec::new(),
            cells: Vec::new(),
            cell: String::new(),
            out: String::new(),
        }
    }

    /// docker's tables: `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
    pub fn docker_table() -> TabWriter {
        TabWriter::new(10, 3)
    }

    pub fn write(&mut self, text: &str) {
        for c in text.chars() {
            match c {
                '\t' => {
                    let cell = std::mem::take(&mut self.cell);
                    self.cells.push(cell);
                }
                '\n' => {
                    let cell = std::mem::take(&mut self.cell);
                    self.cells.push(cell);
                    let line = std::mem::take(&mut self.cells);
                    let ncells = line.len();
                    self.lines.push(line);
                    if ncells == 1 {
                        // A line with one cell cannot affect the columns of later lines.
                        self.flush_block();
                    }
                }
                c => self.cell.push(c),
            }
        }
    }

    /// Flushes everything, including an unterminated last line, and returns the text.
    pub fn finish(mut self) -> String {
        if !self.cell.is_empty() || !self.cells.is_empty() {
            let cell = std::mem::take(&mut self.cell);
            self.cells.push(cell);
            let line = std::mem::take(&mut self.cells);
            self.lines.push(line);
            self.flush_block();
            // The unterminated line got a newline in flush_block; take it back.
            self.out.pop();
        } else {
            self.flush_block();
        }
        self.out
    }

    fn flush_block(&mut self) {
        let lines = std::mem::take(&mut self.lines);
        let mut widths = Vec::new();
        self.format(&lines, &mut widths, 0, lines.len());
    }

    /// Go's `format`: finds the column blocks of column `widths.len()` in lines
    /// `line0..line1`, recursing to the right, and writes lines once all widths are known.
    fn format(
        &mut self,
        lines: &[Vec<String>],
        widths: &mut Vec<usize>,
        mut line0: usize,
        line1: usize,
    ) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            self.write_lines(lines, widths, line0, this);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 && column + 1 < lines[this].len() {
                let w = lines[this][column].chars().count() + self.padding;
                width = width.max(w);
                this += 1;
            }
            widths.push(width);
            self.format(lines, widths, line0, this);
            widths.pop();
            line0 = this;
        }
        self.write_lines(lines, widths, line0, line1);
    }

    fn write_lines(&mut self, lines: &[Vec<String>], widths: &[usize], line0: usize, line1: usize) {
        for line in &lines[line0..line1] {
            for (j, cell) in line.iter().enumerate() {
                self.out.push_str(cell);
                if j < widths.len() && j + 1 < line.len() {
                    let pad = widths[j].saturating_sub(cell.chars().count());
                    self.out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            self.out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> String {
        let mut t = TabWriter::docker_table();
        t.write(text);
        t.finish()
    }

    #[test]
    fn empty_ps_header_like_docker() {
        assert_eq!(
            table("CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n"),
            "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
        );
    }

    #[test]
    fn widths_are_characters_and_last_cell_unpadded() {
        // From transcripts/ps-paused.md (the ellipsis is one character wide).
        let out = table(concat!(
            "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n",
            "c948ee81b28c\tcapture/busybox\t\"sh -c 'echo via-sta…\"\t2 minutes ago\tExited (9) 2 minutes ago\t\tcap-start-a\n",
            "22d1e3af7dc9\tcapture/busybox\t\"sleep 600\"\t5 minutes ago\tUp 2 minutes (Paused)\t\tcap-run-d\n",
        ));
        assert_eq!(
            out,
            concat!(
                "CONTAINER ID   IMAGE             COMMAND                  CREATED         STATUS                     PORTS     NAMES\n",
                "c948ee81b28c   capture/busybox   \"sh -c 'echo via-sta…\"   2 minutes ago   Exited (9) 2 minutes ago             cap-start-a\n",
                "22d1e3af7dc9   capture/busybox   \"sleep 600\"              5 minutes ago   Up 2 minutes (Paused)                cap-run-d\n",
            )
        );
    }

    #[test]
    fn lines_without_tabs_end_a_block() {
        let mut t = TabWriter::new(20, 1);
        t.write("Client:\n Version:\t1\n API version:\t1.41\n\nServer:\n Engine:\n  Version:\t2\n");
        assert_eq!(
            t.finish(),
            "Client:\n Version:           1\n API version:       1.41\n\nServer:\n Engine:\n  Version:          2\n"
        );
    }

    #[test]
    fn ragged_rows_form_separate_blocks() {
        let mut t = TabWriter::new(0, 1);
        t.write("a\tb\tc\naaaa\tb\nx\n");
        assert_eq!(t.finish(), "a    b c\naaaa b\nx\n");
    }
}
