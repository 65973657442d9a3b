//! The quick-add case table. Unless a case says otherwise it is read on
//! Wednesday 18 November 2026 at 15:30 in Europe/Berlin (14:30 UTC), and
//! its expectation is a summary of the parse: the title, then what was set,
//! in this order — `due <local date and time>`, the recurrence,
//! `completion`, `until <date>`, the priority, `#tags`, `remind <minutes>`.
//! `tests/benches/quick_add.rs` times the parser over every `#[case]` here.

use proptest::prelude::*;
use rstest::rstest;

use super::*;

const NOW: &str = "2026-11-18T14:30:00Z";
const ZONE: &str = "Europe/Berlin";

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("a test instant")
}

fn zone(s: &str) -> Tz {
    s.parse().expect("a test time zone")
}

fn summary(q: &QuickAdd, tz: Tz) -> String {
    let mut s = vec![q.title.clone()];
    if let Some(d) = q.due_at {
        let local = tz.from_utc_datetime(&d);
        s.push(format!("due {}", local.format("%a %Y-%m-%d %H:%M")));
    }
    if let Some(r) = &q.recurrence {
        s.push(r.as_str().to_owned());
    }
    if q.recurrence_mode == RecurrenceMode::Completion {
        s.push("completion".into());
    }
    if let Some(u) = q.recurrence_end_date {
        s.push(format!(
            "until {}",
            tz.from_utc_datetime(&u).format("%Y-%m-%d")
        ));
    }
    if let Some(p) = q.priority {
        s.push(p.as_str().into());
    }
    if !q.tags.is_empty() {
        let tags: Vec<String> = q.tags.iter().map(|t| format!("#{}", t.as_str())).collect();
        s.push(tags.join(" "));
    }
    if let Some(m) = q.reminder_offset_minutes {
        s.push(format!("remind {m}"));
    }
    s.join(" | ")
}

#[rstest]
// Dates
#[case("Buy milk today", "Buy milk | due Wed 2026-11-18 23:59")]
#[case("Buy milk tonight", "Buy milk | due Wed 2026-11-18 19:00")]
#[case("Buy milk tomorrow", "Buy milk | due Thu 2026-11-19 23:59")]
#[case("call mom tmrw", "call mom | due Thu 2026-11-19 23:59")]
#[case("Pay rent day after tomorrow", "Pay rent | due Fri 2026-11-20 23:59")]
#[case("Dentist monday", "Dentist | due Mon 2026-11-23 23:59")]
#[case("Dentist mon", "Dentist | due Mon 2026-11-23 23:59")]
#[case("Dentist on Monday", "Dentist | due Mon 2026-11-23 23:59")]
#[case("Dentist wednesday", "Dentist | due Wed 2026-11-25 23:59")]
#[case("Dentist this wednesday", "Dentist | due Wed 2026-11-18 23:59")]
#[case("Dentist this friday", "Dentist | due Fri 2026-11-20 23:59")]
#[case("Dentist next monday", "Dentist | due Mon 2026-11-23 23:59")]
#[case("Dentist next friday", "Dentist | due Fri 2026-11-27 23:59")]
#[case("Dentist next wednesday", "Dentist | due Wed 2026-11-25 23:59")]
#[case("Dentist Thurs", "Dentist | due Thu 2026-11-19 23:59")]
#[case("Plan next week", "Plan | due Mon 2026-11-23 23:59")]
#[case("Plan next month", "Plan | due Tue 2026-12-01 23:59")]
#[case("Plan next year", "Plan | due Fri 2027-01-01 23:59")]
#[case("Plan next weekend", "Plan | due Sat 2026-11-28 23:59")]
#[case("Plan this weekend", "Plan | due Sat 2026-11-21 23:59")]
#[case("Report in 3 days", "Report | due Sat 2026-11-21 23:59")]
#[case("Report in 2 weeks", "Report | due Wed 2026-12-02 23:59")]
#[case("Report in 1 month", "Report | due Fri 2026-12-18 23:59")]
#[case("Report in a week", "Report | due Wed 2026-11-25 23:59")]
#[case("Report in two days", "Report | due Fri 2026-11-20 23:59")]
#[case("Tea in 90 minutes", "Tea | due Wed 2026-11-18 17:00")]
#[case("Tea in 2 hours", "Tea | due Wed 2026-11-18 17:30")]
#[case("Tea in an hour", "Tea | due Wed 2026-11-18 16:30")]
#[case("Tea in 30 mins", "Tea | due Wed 2026-11-18 16:00")]
#[case("Tea in 2h", "Tea | due Wed 2026-11-18 17:30")]
#[case("Party on Dec 3", "Party | due Thu 2026-12-03 23:59")]
#[case("Party 3 December", "Party | due Thu 2026-12-03 23:59")]
#[case("Party December 3rd", "Party | due Thu 2026-12-03 23:59")]
#[case("Party on the 3rd of December", "Party | due Thu 2026-12-03 23:59")]
#[case("Party 2026-12-03", "Party | due Thu 2026-12-03 23:59")]
#[case("Party on 2027-01-15", "Party | due Fri 2027-01-15 23:59")]
#[case("Party Dec 3 2027", "Party | due Fri 2027-12-03 23:59")]
#[case("Party December 3rd, 2027", "Party | due Fri 2027-12-03 23:59")]
#[case("Taxes April 15", "Taxes | due Thu 2027-04-15 23:59")]
#[case("Taxes Nov 18", "Taxes | due Wed 2026-11-18 23:59")]
#[case("Taxes Nov 17", "Taxes | due Wed 2027-11-17 23:59")]
#[case("Close books end of month", "Close books | due Mon 2026-11-30 23:59")]
#[case(
    "Close books at the end of the month",
    "Close books | due Mon 2026-11-30 23:59"
)]
#[case(
    "Close books by end of the month",
    "Close books | due Mon 2026-11-30 23:59"
)]
#[case("Report by Friday", "Report | due Fri 2026-11-20 23:59")]
#[case("Report due friday", "Report | due Fri 2026-11-20 23:59")]
#[case("Report for Friday", "Report | due Fri 2026-11-20 23:59")]
#[case("Buy gift Dec 31st", "Buy gift | due Thu 2026-12-31 23:59")]
// Leap days and dates that do not exist
#[case("Renew Feb 29", "Renew | due Tue 2028-02-29 23:59")]
#[case("Renew Feb 29 2028", "Renew | due Tue 2028-02-29 23:59")]
#[case("Renew Feb 29 2027", "Renew Feb 29 2027")]
#[case("Party Feb 30", "Party Feb 30")]
#[case("Party on Feb 30", "Party on Feb 30")]
#[case("Party on 31 April", "Party on 31 April")]
#[case("Check 2026-02-30", "Check 2026-02-30")]
#[case("Check 2026-13-01", "Check 2026-13-01")]
// Times
#[case("Call 10am", "Call | due Thu 2026-11-19 10:00")]
#[case("Call 10 AM", "Call | due Thu 2026-11-19 10:00")]
#[case("Call at 5pm", "Call | due Wed 2026-11-18 17:00")]
#[case("Call 10:30", "Call | due Thu 2026-11-19 10:30")]
#[case("Call 10.30pm", "Call | due Wed 2026-11-18 22:30")]
#[case("Call 17:00", "Call | due Wed 2026-11-18 17:00")]
#[case("Call at 5", "Call | due Wed 2026-11-18 17:00")]
#[case("Call at 7", "Call | due Thu 2026-11-19 07:00")]
#[case("Call at 12", "Call | due Thu 2026-11-19 12:00")]
#[case("Call at 10.30", "Call | due Thu 2026-11-19 10:30")]
#[case("Call at 10:15 pm", "Call | due Wed 2026-11-18 22:15")]
#[case("Call 12am", "Call | due Thu 2026-11-19 00:00")]
#[case("Call 12pm", "Call | due Thu 2026-11-19 12:00")]
#[case("Lunch at noon", "Lunch | due Thu 2026-11-19 12:00")]
#[case("Lunch noon", "Lunch | due Thu 2026-11-19 12:00")]
#[case("Release at midnight", "Release | due Thu 2026-11-19 00:00")]
#[case("Run morning", "Run | due Thu 2026-11-19 09:00")]
#[case("Walk afternoon", "Walk | due Thu 2026-11-19 14:00")]
#[case("Read evening", "Read | due Wed 2026-11-18 19:00")]
#[case("Read in the evening", "Read | due Wed 2026-11-18 19:00")]
#[case("Call tomorrow at 5", "Call | due Thu 2026-11-19 17:00")]
#[case("Call tomorrow 9am", "Call | due Thu 2026-11-19 09:00")]
#[case("Call 9am tomorrow", "Call | due Thu 2026-11-19 09:00")]
#[case("Call monday at 10:30am", "Call | due Mon 2026-11-23 10:30")]
#[case("Call on Dec 3 at 4pm", "Call | due Thu 2026-12-03 16:00")]
#[case("Dinner tonight at 8", "Dinner | due Wed 2026-11-18 20:00")]
#[case("Call 13pm", "Call 13pm")]
#[case("Call 25:00", "Call 25:00")]
#[case("Call at 24", "Call at 24")]
#[case("Call 10:7", "Call 10:7")]
#[case("Release notes 10.30", "Release notes 10.30")]
#[case("Pages 5:30-7:00", "Pages 5:30-7:00")]
// Recurrence
#[case("Standup daily", "Standup | due Wed 2026-11-18 23:59 | daily")]
#[case("Standup every day 9am", "Standup | due Thu 2026-11-19 09:00 | daily")]
#[case(
    "Standup every weekday",
    "Standup | due Wed 2026-11-18 23:59 | weekdays"
)]
#[case(
    "Standup every weekday at 9:30",
    "Standup | due Thu 2026-11-19 09:30 | weekdays"
)]
#[case(
    "Clean every weekend",
    "Clean | due Sat 2026-11-21 23:59 | FREQ=WEEKLY;BYDAY=SA,SU"
)]
#[case("Review weekly", "Review | due Wed 2026-11-18 23:59 | weekly")]
#[case("Review every week", "Review | due Wed 2026-11-18 23:59 | weekly")]
#[case(
    "Team sync every monday",
    "Team sync | due Mon 2026-11-23 23:59 | FREQ=WEEKLY;BYDAY=MO"
)]
#[case(
    "Team sync every monday 10am",
    "Team sync | due Mon 2026-11-23 10:00 | FREQ=WEEKLY;BYDAY=MO"
)]
#[case(
    "Gym every mon, wed and fri",
    "Gym | due Wed 2026-11-18 23:59 | FREQ=WEEKLY;BYDAY=MO,WE,FR"
)]
#[case(
    "Gym every mon, wed, fri 7am",
    "Gym | due Fri 2026-11-20 07:00 | FREQ=WEEKLY;BYDAY=MO,WE,FR"
)]
#[case(
    "Gym every tue & thu",
    "Gym | due Thu 2026-11-19 23:59 | FREQ=WEEKLY;BYDAY=TU,TH"
)]
#[case(
    "Gym every sat and sun",
    "Gym | due Sat 2026-11-21 23:59 | FREQ=WEEKLY;BYDAY=SA,SU"
)]
#[case(
    "Sprint every 2 weeks",
    "Sprint | due Wed 2026-11-18 23:59 | FREQ=WEEKLY;INTERVAL=2"
)]
#[case(
    "Sprint every other week",
    "Sprint | due Wed 2026-11-18 23:59 | FREQ=WEEKLY;INTERVAL=2"
)]
#[case(
    "Review fortnightly",
    "Review | due Wed 2026-11-18 23:59 | FREQ=WEEKLY;INTERVAL=2"
)]
#[case(
    "Retro every other friday",
    "Retro | due Fri 2026-11-20 23:59 | FREQ=WEEKLY;INTERVAL=2;BYDAY=FR"
)]
#[case(
    "Bills every other month",
    "Bills | due Wed 2026-11-18 23:59 | FREQ=MONTHLY;INTERVAL=2"
)]
#[case("Bills monthly", "Bills | due Wed 2026-11-18 23:59 | monthly")]
#[case(
    "Rent every month on the 15th",
    "Rent | due Tue 2026-12-15 23:59 | FREQ=MONTHLY;BYMONTHDAY=15"
)]
#[case(
    "Rent every 15th",
    "Rent | due Tue 2026-12-15 23:59 | FREQ=MONTHLY;BYMONTHDAY=15"
)]
#[case(
    "Rent every 1st of the month",
    "Rent | due Tue 2026-12-01 23:59 | FREQ=MONTHLY;BYMONTHDAY=1"
)]
#[case(
    "Payroll every 31st",
    "Payroll | due Thu 2026-12-31 23:59 | FREQ=MONTHLY;BYMONTHDAY=31"
)]
#[case(
    "Plan every 2 months on the 1st",
    "Plan | due Tue 2026-12-01 23:59 | FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=1"
)]
#[case("Taxes yearly", "Taxes | due Wed 2026-11-18 23:59 | yearly")]
#[case("Taxes every year", "Taxes | due Wed 2026-11-18 23:59 | yearly")]
#[case("Review annually", "Review | due Wed 2026-11-18 23:59 | yearly")]
#[case(
    "Water plants every 3 hours",
    "Water plants | due Wed 2026-11-18 16:00 | FREQ=HOURLY;INTERVAL=3"
)]
#[case("Stretch hourly", "Stretch | due Wed 2026-11-18 16:00 | FREQ=HOURLY")]
#[case(
    "Water every 3 days",
    "Water | due Wed 2026-11-18 23:59 | FREQ=DAILY;INTERVAL=3"
)]
#[case(
    "Mow lawn every! 3 days",
    "Mow lawn | due Wed 2026-11-18 23:59 | FREQ=DAILY;INTERVAL=3 | completion"
)]
#[case(
    "Haircut every 4 weeks after completion",
    "Haircut | due Wed 2026-11-18 23:59 | FREQ=WEEKLY;INTERVAL=4 | completion"
)]
#[case(
    "Standup daily until Dec 31",
    "Standup | due Wed 2026-11-18 23:59 | daily | until 2026-12-31"
)]
#[case(
    "Pills daily for 5 times",
    "Pills | due Wed 2026-11-18 23:59 | FREQ=DAILY;COUNT=5"
)]
#[case(
    "Pills every day at 8am for 10 times until Dec 31",
    "Pills | due Thu 2026-11-19 08:00 | FREQ=DAILY;COUNT=10 | until 2026-12-31"
)]
#[case("Sync weekly on friday", "Sync | due Fri 2026-11-20 23:59 | weekly")]
#[case(
    "Sync every monday starting Dec 7",
    "Sync | due Mon 2026-12-07 23:59 | FREQ=WEEKLY;BYDAY=MO"
)]
#[case("Call mom until Dec 31", "Call mom until Dec 31")]
#[case("Read for 5 times", "Read for 5 times")]
#[case("Mow lawn after completion", "Mow lawn after completion")]
#[case("Tick every 5 minutes", "Tick every 5 minutes")]
#[case("every", "every")]
// Priority
#[case("Fix bug p1", "Fix bug | urgent")]
#[case("Fix bug p2", "Fix bug | high")]
#[case("Fix bug p3", "Fix bug | medium")]
#[case("Fix bug P4", "Fix bug | low")]
#[case("Fix bug !1", "Fix bug | urgent")]
#[case("Fix bug !2", "Fix bug | high")]
#[case("Fix bug !3", "Fix bug | medium")]
#[case("Fix bug !4", "Fix bug | low")]
#[case("Fix bug urgent", "Fix bug | urgent")]
#[case("Fix bug high priority", "Fix bug | high")]
#[case("Fix bug medium priority", "Fix bug | medium")]
#[case("low priority fix bug", "fix bug | low")]
#[case("Fix bug priority high", "Fix bug | high")]
#[case("Fix bug p5", "Fix bug p5")]
#[case("Fix bug !5", "Fix bug !5")]
#[case("Fix bug wow!1", "Fix bug wow!1")]
#[case("Fix bug p1 p2", "Fix bug p2 | urgent")]
#[case("Buy high heels", "Buy high heels")]
// Tags
#[case("Buy milk #groceries", "Buy milk | #groceries")]
#[case("Buy milk @home", "Buy milk | #home")]
#[case("Plan #long-term_goal", "Plan | #long-term_goal")]
#[case("Read #café", "Read | #café")]
#[case("Buy #food #Food", "Buy | #food")]
#[case(
    "Tag #work, #home tomorrow",
    "Tag | due Thu 2026-11-19 23:59 | #work #home"
)]
#[case("#2027 plans", "plans | #2027")]
#[case("Mail me@example.com", "Mail me@example.com")]
#[case("Issue # 5", "Issue # 5")]
#[case("C# course", "C# course")]
// Reminders
#[case(
    "Dentist tomorrow 10am remind me 30 min before",
    "Dentist | due Thu 2026-11-19 10:00 | remind 30"
)]
#[case(
    "Dentist tomorrow 10am remind me 1 hour before",
    "Dentist | due Thu 2026-11-19 10:00 | remind 60"
)]
#[case(
    "Dentist tomorrow 10am remind me 2 days before",
    "Dentist | due Thu 2026-11-19 10:00 | remind 2880"
)]
#[case(
    "Dentist tomorrow remind me 30m before",
    "Dentist | due Thu 2026-11-19 23:59 | remind 30"
)]
#[case(
    "Dentist tomorrow 10am remind me at 9am",
    "Dentist | due Thu 2026-11-19 10:00 | remind 60"
)]
#[case(
    "Dentist tomorrow 8am remind me at 9am",
    "Dentist | due Thu 2026-11-19 08:00 | remind 1380"
)]
#[case(
    "Dentist friday remind me at 9am",
    "Dentist | due Fri 2026-11-20 23:59 | remind 899"
)]
#[case(
    "Dentist remind me at 9am",
    "Dentist | due Thu 2026-11-19 09:00 | remind 0"
)]
#[case("Dentist remind me 30 min before", "Dentist remind me 30 min before")]
// Titles protected (the failures of other parsers)
#[case("The 5th Wave", "The 5th Wave")]
#[case("Renovation - 2nd Floor", "Renovation - 2nd Floor")]
#[case("check money", "check money")]
#[case("Room 101", "Room 101")]
#[case("top 10 list", "top 10 list")]
#[case("Launch 3 rockets", "Launch 3 rockets")]
#[case("Chapter 3 review", "Chapter 3 review")]
#[case("1st place trophy", "1st place trophy")]
#[case("Day 1 of training", "Day 1 of training")]
#[case("Read in bed", "Read in bed")]
#[case("Meet at home", "Meet at home")]
#[case("March forward", "March forward")]
#[case("Mayday drill", "Mayday drill")]
#[case("Pick up sun cream", "Pick up sun cream")]
#[case("Sat exam prep", "Sat exam prep")]
#[case("Get wed tomorrow", "Get wed | due Thu 2026-11-19 23:59")]
#[case("Picnic on sat", "Picnic | due Sat 2026-11-21 23:59")]
#[case("Brunch this sun", "Brunch | due Sun 2026-11-22 23:59")]
#[case(
    "Read \"The 5th Wave\" tomorrow",
    "Read The 5th Wave | due Thu 2026-11-19 23:59"
)]
#[case("Watch \"Next Monday\" movie", "Watch Next Monday movie")]
#[case("\u{201c}Sunday\u{201d} by Moby", "Sunday by Moby")]
#[case(
    "\"Monday Night Football\" on sunday",
    "Monday Night Football | due Sun 2026-11-22 23:59"
)]
#[case(
    "Unclosed \"quote tomorrow",
    "Unclosed \"quote | due Thu 2026-11-19 23:59"
)]
#[case("Read \"p1\" p2", "Read p1 | high")]
// Titles tidied
#[case("Call mom, tomorrow", "Call mom | due Thu 2026-11-19 23:59")]
#[case("tomorrow - call mom", "call mom | due Thu 2026-11-19 23:59")]
#[case("Buy milk tomorrow.", "Buy milk. | due Thu 2026-11-19 23:59")]
#[case("a, tomorrow, b", "a, b | due Thu 2026-11-19 23:59")]
#[case("   spaced    out   task  ", "spaced out task")]
#[case("BUY MILK TOMORROW", "BUY MILK | due Thu 2026-11-19 23:59")]
#[case(
    "\u{1f389} party tomorrow",
    "\u{1f389} party | due Thu 2026-11-19 23:59"
)]
#[case("Café mit Anna morgen", "Café mit Anna morgen")]
#[case("tomorrow", " | due Thu 2026-11-19 23:59")]
#[case("", "")]
// Several parts, and parts given twice
#[case(
    "high priority weekly meeting for Monday 10 AM",
    "meeting | due Mon 2026-11-23 10:00 | weekly | high"
)]
#[case(
    "Submit report by friday 5pm #work p2 remind me 1 hour before",
    "Submit report | due Fri 2026-11-20 17:00 | high | #work | remind 60"
)]
#[case(
    "Pay rent every month on the 1st at 9am #finance !2",
    "Pay rent | due Tue 2026-12-01 09:00 | FREQ=MONTHLY;BYMONTHDAY=1 | high | #finance"
)]
#[case(
    "Backup every! 2 weeks until 2027-06-30 p3 @ops",
    "Backup | due Wed 2026-11-18 23:59 | FREQ=WEEKLY;INTERVAL=2 | completion | until 2027-06-30 | medium | #ops"
)]
#[case("Call tomorrow friday", "Call friday | due Thu 2026-11-19 23:59")]
#[case("Call 9am 5pm", "Call 5pm | due Thu 2026-11-19 09:00")]
#[case("Call in 2 hours at 5pm", "Call at 5pm | due Wed 2026-11-18 17:30")]
#[case("Gym daily weekly", "Gym weekly | due Wed 2026-11-18 23:59 | daily")]
fn reads(#[case] text: &str, #[case] expected: &str) {
    let tz = zone(ZONE);
    let q = parse(text, utc(NOW), tz);
    assert_eq!(summary(&q, tz), expected, "{text:?}: {q:#?}");
    check_parts(text, &q);
}

/// Across time zones, daylight-saving changes, month ends and year ends:
/// the due instant in UTC.
#[rstest]
// New York springs forward on 8 March 2026 at 02:00: 02:30 does not exist
// and is read with the offset before the gap (EST), i.e. 03:30 EDT.
#[case(
    "Swim every sunday 2:30",
    "America/New_York",
    "2026-03-05T17:00:00Z",
    "2026-03-08T07:30:00Z"
)]
#[case(
    "Swim sunday 2:30am",
    "America/New_York",
    "2026-03-05T17:00:00Z",
    "2026-03-08T07:30:00Z"
)]
#[case(
    "Brunch tomorrow 10am",
    "America/New_York",
    "2026-03-07T17:00:00Z",
    "2026-03-08T14:00:00Z"
)]
#[case(
    "Brunch tomorrow",
    "America/New_York",
    "2026-03-07T17:00:00Z",
    "2026-03-09T03:59:00Z"
)]
#[case(
    "Swim every sunday 2:30",
    "America/New_York",
    "2026-03-09T17:00:00Z",
    "2026-03-15T06:30:00Z"
)]
// New York falls back on 1 November 2026: 01:30 happens twice; the first.
#[case(
    "Check sunday 1:30am",
    "America/New_York",
    "2026-10-30T16:00:00Z",
    "2026-11-01T05:30:00Z"
)]
#[case(
    "Check sunday 3am",
    "America/New_York",
    "2026-10-30T16:00:00Z",
    "2026-11-01T08:00:00Z"
)]
#[case(
    "Tea in 2 hours",
    "America/New_York",
    "2026-03-08T06:30:00Z",
    "2026-03-08T08:30:00Z"
)]
// Berlin springs forward on 28 March 2027.
#[case(
    "Swim sunday 2:30",
    "Europe/Berlin",
    "2027-03-25T12:00:00Z",
    "2027-03-28T01:30:00Z"
)]
#[case(
    "Swim every sunday 10am",
    "Europe/Berlin",
    "2027-03-25T12:00:00Z",
    "2027-03-28T08:00:00Z"
)]
// Month ends and leap years.
#[case(
    "Pay in 1 month",
    "UTC",
    "2028-01-31T12:00:00Z",
    "2028-02-29T23:59:00Z"
)]
#[case(
    "Pay in 1 month",
    "UTC",
    "2027-01-31T12:00:00Z",
    "2027-02-28T23:59:00Z"
)]
#[case(
    "Pay end of month",
    "UTC",
    "2028-02-10T12:00:00Z",
    "2028-02-29T23:59:00Z"
)]
#[case(
    "Pay end of month",
    "UTC",
    "2027-02-10T12:00:00Z",
    "2027-02-28T23:59:00Z"
)]
#[case(
    "Pay every 29th",
    "UTC",
    "2027-02-01T12:00:00Z",
    "2027-03-29T23:59:00Z"
)]
#[case(
    "Pay every 29th",
    "UTC",
    "2028-02-01T12:00:00Z",
    "2028-02-29T23:59:00Z"
)]
#[case("Renew Feb 29", "UTC", "2028-03-01T12:00:00Z", "2032-02-29T23:59:00Z")]
#[case(
    "Pay next month",
    "UTC",
    "2027-01-31T12:00:00Z",
    "2027-02-01T23:59:00Z"
)]
// Year ends.
#[case(
    "Party tomorrow",
    "UTC",
    "2026-12-31T20:00:00Z",
    "2027-01-01T23:59:00Z"
)]
#[case(
    "Party next week",
    "UTC",
    "2026-12-31T20:00:00Z",
    "2027-01-04T23:59:00Z"
)]
#[case("Party Jan 1", "UTC", "2026-12-31T20:00:00Z", "2027-01-01T23:59:00Z")]
#[case(
    "Party next month",
    "UTC",
    "2026-12-31T20:00:00Z",
    "2027-01-01T23:59:00Z"
)]
// "Today" is the user's day, not UTC's.
#[case(
    "Call tomorrow 9am",
    "Asia/Tokyo",
    "2026-11-18T14:30:00Z",
    "2026-11-19T00:00:00Z"
)]
#[case(
    "Call today",
    "Pacific/Auckland",
    "2026-11-18T14:30:00Z",
    "2026-11-19T10:59:00Z"
)]
#[case(
    "Call at 5pm",
    "America/Los_Angeles",
    "2026-11-18T14:30:00Z",
    "2026-11-19T01:00:00Z"
)]
// Whole hours are local hours (India is UTC+05:30).
#[case(
    "Water every 3 hours",
    "Asia/Kolkata",
    "2026-11-18T14:30:00Z",
    "2026-11-18T15:30:00Z"
)]
fn reads_in_zones(#[case] text: &str, #[case] tz: &str, #[case] now: &str, #[case] due: &str) {
    let q = parse(text, utc(now), zone(tz));
    let got = q
        .due_at
        .map(|d| DateTime::<Utc>::from_naive_utc_and_offset(d, Utc));
    assert_eq!(got, Some(utc(due)), "{text:?} at {now} in {tz}: {q:#?}");
    check_parts(text, &q);
}

#[test]
fn parts_say_what_was_read_and_where() {
    let text = "high priority weekly meeting for Monday 10 AM #team remind me 15 min before";
    let q = parse(text, utc(NOW), zone(ZONE));
    let parts: Vec<(PartKind, &str, &str)> = q
        .parts
        .iter()
        .map(|p| (p.kind, p.text.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(
        parts,
        [
            (PartKind::Priority, "high priority", "high"),
            (PartKind::Recurrence, "weekly", "weekly"),
            (PartKind::Date, "for Monday", "2026-11-23"),
            (PartKind::Time, "10 AM", "10:00"),
            (PartKind::Tag, "#team", "team"),
            (PartKind::Reminder, "remind me 15 min before", "15"),
        ]
    );
    assert_eq!(q.parts[2].meaning, "Mon 23 Nov 2026");
    assert_eq!(q.parts[1].meaning, "every week");
    assert_eq!(q.parts[5].meaning, "15 minutes before");
    assert!(q.notes.is_empty());
}

#[test]
fn spans_count_characters_not_bytes() {
    let text = "Café ☕ tomorrow";
    let q = parse(text, utc(NOW), zone(ZONE));
    assert_eq!((q.parts[0].start, q.parts[0].end), (7, 15));
    let chars: Vec<char> = text.chars().collect();
    assert_eq!(chars[7..15].iter().collect::<String>(), "tomorrow");
}

#[test]
fn what_cannot_apply_is_noted() {
    let q = parse("Call mom until Dec 31 p1 p2", utc(NOW), zone(ZONE));
    assert_eq!(q.title, "Call mom until Dec 31 p2");
    assert_eq!(
        q.notes,
        [
            "\"p2\": given twice; the first one applies",
            "\"until Dec 31\": needs a recurrence such as \"every week\"",
        ]
    );
    let q = parse("Dentist remind me 30 min before", utc(NOW), zone(ZONE));
    assert_eq!(q.notes, ["\"remind me 30 min before\": needs a due date"]);
}

#[test]
fn a_recurrence_with_a_count_is_an_rrule_that_validates() {
    let q = parse("Pills weekly for 3 times", utc(NOW), zone(ZONE));
    let rule = q.recurrence.expect("a recurrence");
    assert_eq!(rule.as_str(), "FREQ=WEEKLY;COUNT=3");
    assert!(Recurrence::parse(rule.as_str()).is_ok());
}

#[test]
fn the_demo_sentence_is_due_next_monday_at_ten_in_the_users_zone() {
    // Read on a Sunday in New York: "Monday" is tomorrow, 10:00 EST.
    let q = parse(
        "high priority weekly meeting for Monday 10 AM",
        utc("2026-11-22T18:00:00Z"),
        zone("America/New_York"),
    );
    assert_eq!(q.title, "meeting");
    assert_eq!(q.priority, Some(Priority::High));
    assert_eq!(
        q.recurrence.as_ref().map(Recurrence::as_str),
        Some("weekly")
    );
    assert_eq!(
        q.due_at,
        Some(utc("2026-11-23T15:00:00Z").naive_utc()),
        "{q:#?}"
    );
}

/// Characters a title may lose besides the parts: white space, quote marks,
/// separators left doubled and what is trimmed at its ends.
fn accounted(c: char) -> bool {
    c.is_whitespace() || is_quote(&c.to_string()) || SEPARATORS.contains(&c) || TRIMMED.contains(&c)
}

/// Spans are ordered, disjoint and on characters of the input, each part's
/// text is its span, and the title is the input without the spans.
fn check_parts(text: &str, q: &QuickAdd) {
    let chars: Vec<char> = text.chars().collect();
    let mut last = 0;
    for p in &q.parts {
        assert!(
            p.start >= last && p.start < p.end && p.end <= chars.len(),
            "{text:?}: {:?}",
            q.parts
        );
        assert_eq!(chars[p.start..p.end].iter().collect::<String>(), p.text);
        last = p.end;
    }
    let outside: String = chars
        .iter()
        .enumerate()
        .filter(|(i, _)| !q.parts.iter().any(|p| (p.start..p.end).contains(i)))
        .map(|(_, c)| *c)
        .filter(|c| !accounted(*c))
        .collect();
    let title: String = q.title.chars().filter(|c| !accounted(*c)).collect();
    assert_eq!(title, outside, "{text:?} → {q:#?}");
}

/// Words the grammar knows, and others, for random phrases.
const VOCABULARY: &[&str] = &[
    "every",
    "!",
    "every!",
    "day",
    "days",
    "week",
    "other",
    "monday",
    "mon",
    "sun",
    "sat",
    "wed",
    "next",
    "this",
    "in",
    "on",
    "at",
    "by",
    "for",
    "due",
    "until",
    "times",
    "after",
    "completion",
    "tomorrow",
    "today",
    "tonight",
    "end",
    "of",
    "the",
    "month",
    "year",
    "hours",
    "minutes",
    "3",
    "15th",
    "2nd",
    "31",
    "29",
    "Feb",
    "Dec",
    "2027",
    "2026-12-03",
    "10am",
    "10",
    ":",
    "30",
    "pm",
    "am",
    "10.30pm",
    "noon",
    "evening",
    "p1",
    "!2",
    "urgent",
    "high",
    "priority",
    "#work",
    "@home",
    "#",
    "remind",
    "me",
    "before",
    "\"",
    "\u{201c}",
    ",",
    ".",
    "-",
    "and",
    "&",
    "café",
    "☕",
    "ß",
    "İ",
    "x",
    "The",
    "Wave",
    "Room",
    "101",
    "\u{0301}",
    "\t",
    "\u{a0}",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_phrase_parses_with_sound_spans(
        words in prop::collection::vec(prop::sample::select(VOCABULARY), 0..14),
        glue in prop::collection::vec(prop::bool::ANY, 14),
        minutes in 0i64..(60 * 24 * 366 * 4),
        tz in prop::sample::select(&["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"][..]),
    ) {
        let mut text = String::new();
        for (w, g) in words.iter().zip(&glue) {
            if !text.is_empty() && !g {
                text.push(' ');
            }
            text.push_str(w);
        }
        let now = utc("2026-01-01T00:00:00Z") + Duration::minutes(minutes);
        let q = parse(&text, now, zone(tz));
        check_parts(&text, &q);
        if let Some(r) = &q.recurrence {
            prop_assert!(Recurrence::parse(r.as_str()).is_ok());
        }
    }

    #[test]
    fn any_text_at_all_parses(text in "\\PC{0,80}") {
        let q = parse(&text, utc(NOW), zone(ZONE));
        check_parts(&text, &q);
    }
}
