//! Layouts seen from real cards and scanners that the standard does not allow,
//! written out by hand (people and numbers invented), and texts that are not
//! licences at all.

use patron_domain::id_scan::{DocumentKind, IdScanError, Sex, parse_aamva};
use time::macros::date;

#[test]
fn first_element_on_the_directory_line() {
    // The issue's case: DAQ right after the subfile type, same line as the
    // header and directory.
    let text = "@\n\x1e\rANSI 636015080002DL00410278ZV03190008DLDAQD12345678\nDCSPUBLIC\nDACJOHN\nDADNONE\nDBB01071985\nDBA01072029\nDBC1\nDAJTX\r\nZVZVA01\r";
    let d = parse_aamva(text).unwrap();
    assert_eq!(d.document_number.as_deref(), Some("D12345678"));
    assert_eq!(d.last_name.as_deref(), Some("PUBLIC"));
    assert_eq!(d.first_name.as_deref(), Some("JOHN"));
    assert_eq!(d.middle_name, None);
    assert_eq!(d.date_of_birth, Some(date!(1985 - 01 - 07)));
    assert_eq!(d.expiry, Some(date!(2029 - 01 - 07)));
}

#[test]
fn ontario_zero_offset_lost_record_separator_and_trailing_commas() {
    let text = "@\n\nANSI 636012030001DL00000367DLDCAG   \nDCBNONE      \nDCDNONE \nDBA20290603\nDCSTESTER,                               \nDCTMARY,ANN                           \nDBD20240607\nDBB19960603\nDBC2\nDAYNONE\nDAU170 CM\nDAG123 ST GEORGE ST E,                   \nDAIFERGUS              \nDAJON\nDAKN1M 3J6    \nDAQT9244-43879-65702\nDCFDV1539283\nDCGCAN\nDCHNONE\nDCK839267959\n";
    let d = parse_aamva(text).unwrap();
    assert_eq!(d.last_name.as_deref(), Some("TESTER"));
    assert_eq!(d.first_name.as_deref(), Some("MARY"));
    assert_eq!(d.middle_name.as_deref(), Some("ANN"));
    assert_eq!(d.date_of_birth, Some(date!(1996 - 06 - 03)));
    assert_eq!(d.address.line1.as_deref(), Some("123 ST GEORGE ST E"));
    assert_eq!(d.address.postal_code.as_deref(), Some("N1M 3J6"));
    assert_eq!(d.issuing_jurisdiction.as_deref(), Some("ON"));
    assert_eq!(d.issuing_country.as_deref(), Some("CA"));
    assert_eq!(d.sex, Some(Sex::Female));
}

#[test]
fn alberta_non_iso_number_letters_for_offsets_and_mixed_ids() {
    let text = "@\n\nANSI 990876030001DLabacDLDCSMOTORIST\nDCTMARY SMITH\nDABMOTORIST\nDACMARY\nDADSMITH\nDAG123 MAPLE LEAF TERR SW\nDAQ123400-056\nDAKT4G 7A7\nDAICALGARY\nDAJAB\nDBCF\nDBB19930204\nDAR5\nDATA\nDBA20290108\nDAU155 CM\nDAW50 KG\nDCE2\nDAZBROWN\nDAYBROWN\n";
    let d = parse_aamva(text).unwrap();
    assert_eq!(d.document_kind, DocumentKind::DriverLicence);
    assert_eq!(d.last_name.as_deref(), Some("MOTORIST"));
    assert_eq!(d.first_name.as_deref(), Some("MARY"));
    assert_eq!(d.middle_name.as_deref(), Some("SMITH"));
    assert_eq!(d.document_number.as_deref(), Some("123400-056"));
    assert_eq!(d.date_of_birth, Some(date!(1993 - 02 - 04)));
    assert_eq!(d.expiry, Some(date!(2029 - 01 - 08)));
    assert_eq!(d.sex, Some(Sex::Female));
    assert_eq!(d.issuing_jurisdiction.as_deref(), Some("AB"));
    assert_eq!(d.issuing_country.as_deref(), Some("CA"));
}

#[test]
fn old_connecticut_aamva_header_without_subfile_type() {
    let text = "@\n6AAMVA6360060101DL00290179DAAMOTORIST,MICHAEL,G\nDAG12 MAIN AVE\nDAIWEST HAVEN\nDAJCT\nDAK06516      \nDAQ025995434\nDARD   \nDAS          \nDAT     \nDBA20290204\nDBB19610204\nDBC1\nDBD20210114\nDAU504\nDAYBRO\nDBF00\nDBHY";
    let d = parse_aamva(text).unwrap();
    assert_eq!(d.aamva_version, Some(1));
    assert_eq!(d.iin.as_deref(), Some("636006"));
    assert_eq!(d.last_name.as_deref(), Some("MOTORIST"));
    assert_eq!(d.first_name.as_deref(), Some("MICHAEL"));
    assert_eq!(d.middle_name.as_deref(), Some("G"));
    assert_eq!(d.document_number.as_deref(), Some("025995434"));
    assert_eq!(d.date_of_birth, Some(date!(1961 - 02 - 04)));
    assert_eq!(d.address.postal_code.as_deref(), Some("06516"));
    assert_eq!(d.issuing_country.as_deref(), Some("US"));
    // No subfile type survived; the directory still says DL.
    assert_eq!(d.document_kind, DocumentKind::DriverLicence);
}

#[test]
fn pipes_as_separators() {
    let text = "@||ANSI 636002040002DL00410268ZM03090056DLDCAD|DCBNONE|DCDNONE|DBA07072030|DCSSMITH|DACROBERT|DADLOWNEY|DBD06292022|DBB07071977|DBC1|DAYUNK|DAU072 IN|DAG123 MAIN STREET|DAIBOSTON|DAJMA|DAK0210800000  |DAQS65807412|DCF06-29-2022 Rev 07-15-2009|DCGUSA|DDEN|DDFN|DDGN|DCK12345S658074120601|DDB07152009|ZMZMAN|ZMB|ZMCUNDER21UNTIL07071998|";
    let d = parse_aamva(text).unwrap();
    assert_eq!(d.last_name.as_deref(), Some("SMITH"));
    assert_eq!(d.first_name.as_deref(), Some("ROBERT"));
    assert_eq!(d.document_number.as_deref(), Some("S65807412"));
    assert_eq!(d.address.postal_code.as_deref(), Some("02108"));
    assert_eq!(d.expiry, Some(date!(2030 - 07 - 07)));
}

#[test]
fn canadian_card_with_us_date_order_falls_back() {
    // New Brunswick v2 cards write MMDDCCYY although Canadian.
    let text = "@\n\x1e\rANSI 636017020001DL00310390DLDCANONE\nDCBNONE\nDCDNONE\nDBA08082029\nDCSMOTORIST\nDCTMARY M\nDCUNONE\nDBD08122021\nDBB08081962\nDBC2\nDAG123 EAGLEHEAD DR\nDAIGRND-BAY-WFLD\nDAJNB\nDAKE5K 1Y3    \nDAQ1234567\nDCGCAN\r";
    let d = parse_aamva(text).unwrap();
    assert_eq!(d.date_of_birth, Some(date!(1962 - 08 - 08)));
    assert_eq!(d.expiry, Some(date!(2029 - 08 - 08)));
    assert_eq!(d.issue_date, Some(date!(2021 - 08 - 12)));
    assert_eq!(d.first_name.as_deref(), Some("MARY"));
    assert_eq!(d.middle_name.as_deref(), Some("M"));
    assert_eq!(d.suffix, None);
    assert_eq!(d.issuing_country.as_deref(), Some("CA"));
}

#[test]
fn version_1_name_with_spaces_only() {
    let text = "@\n\x1e\rANSI 6360250101DL00290194DLDAQ26798765\nDAAJOHN P SMITH\nDAG140 MAIN ST\nDAIPHILADELPHIA\nDAJPA\nDAK19130      \nDARC   \nDAS*/1             \nDAT---- \nDAU600\nDAYHAZ\nDBA20280203\nDBB19860202\nDBCM\nDBD20240104\nDBF00\nDBHN\n";
    let d = parse_aamva(text).unwrap();
    assert_eq!(d.first_name.as_deref(), Some("JOHN"));
    assert_eq!(d.middle_name.as_deref(), Some("P"));
    assert_eq!(d.last_name.as_deref(), Some("SMITH"));
    assert_eq!(d.sex, Some(Sex::Male));
    assert_eq!(d.date_of_birth, Some(date!(1986 - 02 - 02)));
    assert_eq!(d.issuing_jurisdiction.as_deref(), Some("PA"));
}

#[test]
fn jurisdiction_subfile_before_the_dl_subfile() {
    let text = "@\n\x1e\rANSI 636015080002ZV00410012DL00530040ZVZVA01\nZVBX\rDLDAQ7\nDCSROE\nDACJANE\nDBB12312000\rTRAILER";
    let d = parse_aamva(text).unwrap();
    assert_eq!(d.document_number.as_deref(), Some("7"));
    assert_eq!(d.last_name.as_deref(), Some("ROE"));
    assert_eq!(d.date_of_birth, Some(date!(2000 - 12 - 31)));
}

#[test]
fn residence_address_when_there_is_no_mailing_one() {
    let text = "@\n\x1e\rANSI 6360140101DL00290120DLDAQA1\nDAAROE,JANE\nDALPO BOX 9\nDANTRUCKEE\nDAOCA\nDAP961600000\nDBB20001231\r";
    let d = parse_aamva(text).unwrap();
    assert_eq!(d.address.line1.as_deref(), Some("PO BOX 9"));
    assert_eq!(d.address.city.as_deref(), Some("TRUCKEE"));
    assert_eq!(d.address.region.as_deref(), Some("CA"));
    assert_eq!(d.address.postal_code.as_deref(), Some("96160"));
    assert_eq!(d.address.country.as_deref(), Some("US"));
}

#[test]
fn first_occurrence_of_a_repeated_element_counts() {
    let text = "ANSI 636015080001DL00310050DLDAQ1\nDCSFIRST\nDCSSECOND\nDACX\r";
    assert_eq!(
        parse_aamva(text).unwrap().last_name.as_deref(),
        Some("FIRST")
    );
}

#[test]
fn a_scan_cut_short_keeps_what_it_has() {
    let text = "@\n\x1e\rANSI 636014090002DL00410278ZC03190024DLDAQI1234568\nDCSGARCIA\nDDEN\nDAC";
    let d = parse_aamva(text).unwrap();
    assert_eq!(d.document_number.as_deref(), Some("I1234568"));
    assert_eq!(d.last_name.as_deref(), Some("GARCIA"));
    assert_eq!(d.first_name, None);
    assert_eq!(d.date_of_birth, None);
    assert_eq!(d.expiry, None);
    assert_eq!(d.issuing_jurisdiction.as_deref(), Some("CA"));
}

#[test]
fn elements_without_any_header() {
    // A scan that lost its first line entirely.
    let d = parse_aamva("DAQ123456\nDCSROE\nDACJANE\nDBB07041976\nDAJNY\n").unwrap();
    assert_eq!(d.aamva_version, None);
    assert_eq!(d.document_number.as_deref(), Some("123456"));
    assert_eq!(d.date_of_birth, Some(date!(1976 - 07 - 04)));
    assert_eq!(d.issuing_jurisdiction.as_deref(), Some("NY"));
    assert_eq!(d.issuing_country.as_deref(), Some("US"));
    let d = parse_aamva("noise IDDAQ99DCSROEDACJANEDBB19760704DAJON").unwrap();
    assert_eq!(d.document_kind, DocumentKind::IdCard);
    assert_eq!(d.last_name.as_deref(), Some("ROE"));
    assert_eq!(d.date_of_birth, Some(date!(1976 - 07 - 04)));
    assert_eq!(d.issuing_country.as_deref(), Some("CA"));
}

#[test]
fn byte_order_mark_and_unicode_noise() {
    let text = "\u{feff}→✓ @\n\x1e\rANSI 636001100001DL00310060DLDAQ1 2 3\nDCSÅNGSTRÖM\nDACÉMILE\nDBB01022003\r";
    let d = parse_aamva(text).unwrap();
    assert_eq!(d.last_name.as_deref(), Some("ÅNGSTRÖM"));
    assert_eq!(d.nice_last_name().as_deref(), Some("Ångström"));
    assert_eq!(d.first_name.as_deref(), Some("ÉMILE"));
    assert_eq!(d.date_of_birth, Some(date!(2003 - 01 - 02)));
}

#[test]
fn texts_that_are_not_licences() {
    for text in [
        "",
        "   \n\t",
        "012345678905",
        "https://example.com/DAQ",
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "%TXAUSTIN^PUBLIC$JOHN^123 MAIN ST^?;6360151234567=290119850107?",
        "DAQ only one element",
        "ANSI without digits DL",
        "日本語のテキスト",
    ] {
        assert_eq!(parse_aamva(text), Err(IdScanError::NotAamva), "{text:?}");
    }
}

#[test]
fn nice_names_and_document() {
    let text = "@\n\x1e\rANSI 636002080001DL00310090DLDAQS1\nDCSO'NEIL\nDACJEAN-LUC\nDADMCDONALD\nDBA01012030\nDCGUSA\nDAJMA\r";
    let d = parse_aamva(text).unwrap();
    assert_eq!(d.nice_last_name().as_deref(), Some("O'Neil"));
    assert_eq!(d.nice_first_name().as_deref(), Some("Jean-Luc"));
    assert_eq!(d.nice_middle_name().as_deref(), Some("Mcdonald"));
    let doc = d.id_document();
    assert_eq!(doc.number.as_deref(), Some("S1"));
    assert_eq!(doc.issuing_state.as_deref(), Some("MA"));
    assert_eq!(doc.issuing_country.as_deref(), Some("US"));
    assert_eq!(doc.expiry, Some(date!(2030 - 01 - 01)));
    assert!(!d.is_expired(date!(2030 - 01 - 01)));
    assert!(d.is_expired(date!(2030 - 01 - 02)));
}
