<#
.SYNOPSIS
  Configure Windows to write a memory dump on an NMI (bug check 0x80) or on
  SAC's crashdump (bug check 0xE2), the two ways emsagent triggers a dump.

.DESCRIPTION
  Sets HKLM\SYSTEM\CurrentControlSet\Control\CrashControl:
    CrashDumpEnabled  1 complete, 2 kernel, 3 small, 7 automatic (-DumpType)
    NMICrashDump      1: bug-check on an NMI (needed on 2008 R2 and older;
                      harmless later, where it is the behaviour anyway)
    AutoReboot        1 restart after the dump, 0 stay at !SAC> (-AutoReboot)
    DumpFile          where the dump goes (-DumpFile)
  A complete dump needs a page file (or a dedicated dump file) and free
  space at least the size of RAM on the dump volume. Restart to apply.

.EXAMPLE
  .\crash-dump.ps1 -AutoReboot 0
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
	[ValidateSet(0, 1)] [int] $AutoReboot = 1,
	[ValidateSet(1, 2, 3, 7)] [int] $DumpType = 1,
	[string] $DumpFile = '%SystemRoot%\MEMORY.DMP'
)
$ErrorActionPreference = 'Stop'
$key = 'HKLM:\SYSTEM\CurrentControlSet\Control\CrashControl'

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
	Write-Error 'crash-dump.ps1 must run as Administrator'
	exit 1
}

if ($PSCmdlet.ShouldProcess($key, 'set crash dump values')) {
	Set-ItemProperty -Path $key -Name CrashDumpEnabled -Type DWord -Value $DumpType
	Set-ItemProperty -Path $key -Name NMICrashDump -Type DWord -Value 1
	Set-ItemProperty -Path $key -Name AutoReboot -Type DWord -Value $AutoReboot
	# ExpandString keeps %SystemRoot% unexpanded, as Windows itself stores it
	Set-ItemProperty -Path $key -Name DumpFile -Type ExpandString -Value $DumpFile
}
Get-ItemProperty -Path $key | Select-Object CrashDumpEnabled, NMICrashDump, AutoReboot, DumpFile | Format-List
Write-Output 'Restart Windows for the crash dump settings to take effect.'
