// The live view: asks /live.json about once a second and shows the run so far, as the report
// renders it; when the run has ended, opens the finished report.
let seq = -1;
const connection = document.getElementById("connection");
async function poll() {
  try {
    const answer = await fetch("/live.json", { cache: "no-store" });
    const live = await answer.json();
    connection.textContent = "";
    if (live.finished) {
      location.replace("/report");
      return;
    }
    if (live.seq !== seq && live.html) {
      seq = live.seq;
      document.getElementById("live").innerHTML = live.html;
      document.title = "presign-bench: live · " + live.stage;
    }
  } catch (e) {
    connection.textContent = "The run is not answering (" + e + "); it may have ended.";
  }
  setTimeout(poll, 1000);
}
poll();
